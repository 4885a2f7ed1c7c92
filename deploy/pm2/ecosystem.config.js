// pm2 ecosystem file for the minertrace validator service (Gaia operators run their
// validator under pm2). Start with: pm2 start deploy/pm2/ecosystem.config.js
// DATABASE_URL may point at the Gaia validator's PostgreSQL; minertrace keeps its own
// Alembic version table there.
module.exports = {
  apps: [
    {
      name: "minertrace",
      script: ".venv/bin/minertrace",
      interpreter: "none",
      args: [
        "run",
        "--netuid", "57",
        "--subtensor.network", "finney",
        "--wallet.name", "default",
        "--wallet.hotkey", "default",
        "--metrics-port", "9101",
        "--log-format", "json",
      ],
      env: {
        // DATABASE_URL: "postgresql://user:password@localhost:5432/gaia",
        MINERTRACE_LOG_LEVEL: "INFO",
      },
      autorestart: true,
      // exit 3 = another instance holds this hotkey's lock: do not restart into it
      stop_exit_codes: [0, 3],
      kill_timeout: 120000,
      max_restarts: 20,
      restart_delay: 30000,
    },
  ],
};
