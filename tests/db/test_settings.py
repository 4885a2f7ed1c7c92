"""Settings: defaults, .env, environment, Bittensor-style flags, validation errors."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
import pytest

from minertrace.config import Settings, SettingsError, load_settings, parse_flags
from minertrace.flags import FLAGS

EXPECTED_DEFAULTS = {
    "database_url": None,
    "netuid": 57,
    "subtensor_network": None,
    "subtensor_chain_endpoint": None,
    "wallet_name": "default",
    "wallet_hotkey": "default",
    "wallet_path": "~/.bittensor/wallets",
    "enable_detailed_pathways": True,
    "enable_chain_integration": True,
    "enable_realtime_updates": True,
    "retention_days": 30,
    "cleanup_frequency_hours": 4,
    "performance_impact_threshold": 0.1,
    "cycle_interval_seconds": 3600,
    "node_sync_interval_seconds": 300,
    "stats_refresh_interval_seconds": 3600,
    "active_validator_window_blocks": 500,
    "submission_max_attempts": 5,
    "submission_backoff_seconds": 12.0,
    "trace_queue_size": 64,
    "weights_version_key": 0,
    "log_level": "INFO",
    "weight_rules": "gaia",
    "shadow": False,
    "shadow_watch_seconds": 60.0,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient configuration: empty environment for our names, no .env in the cwd."""
    for name in list(os.environ):
        if name.startswith("MINERTRACE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert {k: getattr(settings, k) for k in EXPECTED_DEFAULTS} == EXPECTED_DEFAULTS
    assert settings.data_dir == platformdirs.user_data_path("minertrace")
    assert settings.pgdata == settings.data_dir / "pgdata"
    assert settings.uses_local_chain
    assert set(Settings.model_fields) == set(EXPECTED_DEFAULTS) | {"data_dir"}


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINERTRACE_RETENTION_DAYS", "7")
    monkeypatch.setenv("MINERTRACE_ENABLE_DETAILED_PATHWAYS", "false")
    monkeypatch.setenv("MINERTRACE_PERFORMANCE_IMPACT_THRESHOLD", "0.25")
    monkeypatch.setenv("MINERTRACE_SUBTENSOR_NETWORK", "Finney")
    monkeypatch.setenv("MINERTRACE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@h/db")
    monkeypatch.setenv("MINERTRACE_WEIGHT_RULES", " Template")
    monkeypatch.setenv("MINERTRACE_SHADOW", "true")
    settings = load_settings()
    assert settings.weight_rules == "template"
    assert settings.shadow is True
    assert settings.retention_days == 7
    assert settings.enable_detailed_pathways is False
    assert settings.performance_impact_threshold == 0.25
    assert settings.subtensor_network == "finney"
    assert not settings.uses_local_chain
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url == "postgresql://u:pw@h/db"
    assert settings.display_database_url == "postgresql://u:***@h/db"
    assert "pw" not in repr(settings)


def test_prefixed_database_url_wins_over_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/plain")
    monkeypatch.setenv("MINERTRACE_DATABASE_URL", "postgresql://h/prefixed")
    assert load_settings().database_url == "postgresql://h/prefixed"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MINERTRACE_NETUID=12\nUNRELATED_GAIA_SETTING=1\n")
    assert load_settings().netuid == 12


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINERTRACE_NETUID", "12")
    monkeypatch.setenv("MINERTRACE_WALLET_NAME", "env-wallet")
    settings = load_settings(
        [
            "--netuid",
            "3",
            "--subtensor.network=test",
            "--subtensor.chain_endpoint",
            "wss://entrypoint.example:443",
            "--wallet.name",
            "cold",
            "--wallet.hotkey=hot",
            "--wallet.path",
            "/w",
            "--database-url",
            "postgresql://h/flag",
            "--data-dir",
            "/tmp/mt-data",
        ]
    )
    assert settings.netuid == 3
    assert settings.subtensor_network == "test"
    assert settings.subtensor_chain_endpoint == "wss://entrypoint.example:443"
    assert (settings.wallet_name, settings.wallet_hotkey, settings.wallet_path) == (
        "cold",
        "hot",
        "/w",
    )
    assert settings.database_url == "postgresql://h/flag"
    assert settings.data_dir == Path("/tmp/mt-data")


def test_keyword_overrides_and_none_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINERTRACE_NETUID", "12")
    assert load_settings(netuid=None).netuid == 12
    assert load_settings(["--netuid", "4"], netuid=5).netuid == 5


def test_parse_flags_errors() -> None:
    assert parse_flags(["--netuid=1"]) == {"netuid": "1"}
    assert set(FLAGS.values()) <= set(Settings.model_fields)
    with pytest.raises(SettingsError, match="unknown option '--bogus'"):
        parse_flags(["--bogus", "1"])
    with pytest.raises(SettingsError, match="--netuid needs a value"):
        parse_flags(["--netuid"])


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("MINERTRACE_RETENTION_DAYS", "0", "retention_days"),
        ("MINERTRACE_CLEANUP_FREQUENCY_HOURS", "-4", "cleanup_frequency_hours"),
        ("MINERTRACE_PERFORMANCE_IMPACT_THRESHOLD", "0", "performance_impact_threshold"),
        ("MINERTRACE_CYCLE_INTERVAL_SECONDS", "soon", "cycle_interval_seconds"),
        ("MINERTRACE_TRACE_QUEUE_SIZE", "0", "trace_queue_size"),
        ("MINERTRACE_NETUID", "-1", "netuid"),
        ("MINERTRACE_SUBMISSION_BACKOFF_SECONDS", "-1", "submission_backoff_seconds"),
        ("MINERTRACE_ENABLE_REALTIME_UPDATES", "maybe", "enable_realtime_updates"),
        ("MINERTRACE_SUBTENSOR_NETWORK", "moon", "subtensor_network"),
        ("MINERTRACE_SUBTENSOR_CHAIN_ENDPOINT", "http://x", "subtensor_chain_endpoint"),
        ("MINERTRACE_LOG_LEVEL", "LOUD", "log_level"),
        ("MINERTRACE_WEIGHT_RULES", "yuma", "weight_rules"),
        ("MINERTRACE_SHADOW_WATCH_SECONDS", "0", "shadow_watch_seconds"),
        ("DATABASE_URL", "sqlite:///x.db", "database_url"),
    ],
)
def test_invalid_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=f"invalid setting {named} ") as excinfo:
        load_settings()
    assert env in str(excinfo.value)


def test_invalid_database_url_error_hides_password() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings(["--database-url", "mysql://u:hunter2@h/db"])
    assert "hunter2" not in str(excinfo.value)
    assert "--database-url" in str(excinfo.value)
