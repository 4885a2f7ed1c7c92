"""minertrace settings: one object from defaults, `.env`, environment and CLI flags.

Precedence (highest first): CLI flags, environment (`MINERTRACE_*`, plus `DATABASE_URL`),
`.env` in the working directory, defaults. Bittensor-style flags (`--netuid`,
`--subtensor.network`, `--wallet.name`, ...) are turned into overrides by `parse_flags`.
Invalid values fail at start-up with a `SettingsError` naming the setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from minertrace.db.urls import InvalidDatabaseURLError, parse_url, redact_url
from minertrace.flags import FLAGS, WEIGHT_RULES
from minertrace.vocabulary import MAX_RETENTION_DAYS

ENV_PREFIX = "MINERTRACE_"
NETWORKS = ("finney", "test", "local", "archive")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WS_URL = re.compile(r"^wss?://\S+$")


def default_data_dir() -> Path:
    """The user's data directory for minertrace (embedded database lives below it)."""
    return platformdirs.user_data_path("minertrace")


class SettingsError(ValueError):
    """Invalid configuration; the message names the setting, never a secret value."""


class Settings(BaseSettings):
    """Every minertrace setting. Environment names are MINERTRACE_<FIELD> in upper case."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    database_url: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("MINERTRACE_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL; unset = embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory of the embedded PostgreSQL's data (pgdata below it).",
    )
    netuid: int = Field(default=57, ge=0, description="Subnet id.")
    subtensor_network: str | None = Field(
        default=None,
        description="None = in-process LocalChain; finney, test, local, archive or a ws(s):// URL.",
    )
    subtensor_chain_endpoint: str | None = Field(
        default=None, description="Explicit ws(s):// endpoint of the chain (overrides network)."
    )
    wallet_name: str = Field(default="default", min_length=1, description="Coldkey wallet name.")
    wallet_hotkey: str = Field(default="default", min_length=1, description="Hotkey name.")
    wallet_path: str = Field(
        default="~/.bittensor/wallets", min_length=1, description="Wallets directory."
    )
    enable_detailed_pathways: bool = Field(
        default=True, description="Store per-UID stage vectors and pathway_details."
    )
    enable_chain_integration: bool = Field(
        default=True, description="Write incentive/consensus_rank from the chain into stats rows."
    )
    enable_realtime_updates: bool = Field(
        default=True, description="Upsert period rows after every cycle."
    )
    retention_days: int = Field(
        default=30, gt=0, le=MAX_RETENTION_DAYS, description="Days of history kept."
    )
    cleanup_frequency_hours: int = Field(default=4, gt=0, description="Hours between cleanups.")
    performance_impact_threshold: float = Field(
        default=0.1, gt=0, description="Seconds of trace overhead per cycle before warning."
    )
    cycle_interval_seconds: int = Field(default=3600, gt=0, description="Seconds between cycles.")
    node_sync_interval_seconds: int = Field(
        default=300, gt=0, description="Seconds between metagraph syncs."
    )
    stats_refresh_interval_seconds: int = Field(
        default=3600, gt=0, description="Seconds between period statistics refreshes."
    )
    active_validator_window_blocks: int = Field(
        default=500, gt=0, description="A validator is active if it updated within this window."
    )
    submission_max_attempts: int = Field(default=5, gt=0, description="set_weights attempts.")
    submission_backoff_seconds: float = Field(
        default=12.0, ge=0, description="Base back-off between submission attempts."
    )
    trace_queue_size: int = Field(default=64, gt=0, description="Traces waiting to be written.")
    weights_version_key: int = Field(default=0, ge=0, description="version_key of set_weights.")
    log_level: str = Field(default="INFO", description="Logging level.")
    weight_rules: str = Field(
        default="gaia", description="Weight rules: gaia (the default) or template (docs/rules.md)."
    )
    shadow: bool = Field(
        default=False,
        description="Shadow mode: trace every cycle, submit nothing, compare with the weights "
        "the validator's hotkey sets (docs/shadow.md).",
    )
    shadow_watch_seconds: float = Field(
        default=60.0, gt=0, description="Shadow mode: seconds between reads of the chain."
    )

    @field_validator("weight_rules")
    @classmethod
    def _check_rules(cls, value: str) -> str:
        name = value.strip().lower()
        if name not in WEIGHT_RULES:
            raise ValueError(f"must be one of {', '.join(WEIGHT_RULES)}")
        return name

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parse_url(value.strip())
        except InvalidDatabaseURLError as exc:
            raise ValueError(str(exc)) from None
        return value.strip()

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("subtensor_network")
    @classmethod
    def _check_network(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value.lower() in NETWORKS:
            return value.lower()
        if _WS_URL.match(value):
            return value
        raise ValueError(f"must be one of {', '.join(NETWORKS)} or a ws:// or wss:// URL")

    @field_validator("subtensor_chain_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _WS_URL.match(value.strip()):
            raise ValueError("must be a ws:// or wss:// URL")
        return value.strip()

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @property
    def uses_local_chain(self) -> bool:
        """True when no real network is configured (the in-process LocalChain is used)."""
        return self.subtensor_network is None and self.subtensor_chain_endpoint is None

    @property
    def display_database_url(self) -> str | None:
        """database_url with its password redacted (safe to print)."""
        return None if self.database_url is None else redact_url(self.database_url)

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL."""
        return self.data_dir / "pgdata"


def env_name(field: str) -> str:
    """The environment variable of a setting."""
    return ENV_PREFIX + field.upper()


def flag_of(field: str) -> str | None:
    """The CLI flag of a setting, if it has one."""
    return next((flag for flag, name in FLAGS.items() if name == field), None)


def _describe(field: str) -> str:
    names = [env_name(field)]
    if field == "database_url":
        names.append("DATABASE_URL")
    flag = flag_of(field)
    if flag:
        names.append(flag)
    return f"{field} ({' / '.join(names)})"


def parse_flags(args: Sequence[str]) -> dict[str, str]:
    """Turn Bittensor-style flags into settings overrides.

    Accepts `--flag value` and `--flag=value`; unknown flags or a missing value raise
    `SettingsError`.
    """
    overrides: dict[str, str] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        flag, sep, value = arg.partition("=")
        if flag not in FLAGS:
            raise SettingsError(f"unknown option {flag!r}; known: {', '.join(FLAGS)}")
        if not sep:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                raise SettingsError(f"option {flag} needs a value")
            i += 1
            value = items[i]
        overrides[FLAGS[flag]] = value
        i += 1
    return overrides


def load_settings(
    args: Sequence[str] = (), overrides: Mapping[str, Any] | None = None, **kwargs: Any
) -> Settings:
    """Build the settings: flags in `args`, then `overrides`/`kwargs` (None values ignored).

    Raises `SettingsError` naming every invalid setting (values are not echoed, so a
    password in a URL never reaches the message).
    """
    values: dict[str, Any] = parse_flags(args)
    for source in (overrides or {}, kwargs):
        values.update({k: v for k, v in source.items() if v is not None})
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = error["loc"][0] if error["loc"] else "?"
            field = str(loc)
            if field not in Settings.model_fields:
                field = next(
                    (n for n in Settings.model_fields if env_name(n) == field.upper()), field
                )
            # Messages never echo the input (include_input=False); the database URL's own
            # validator words its message from the redacted URL.
            message = str(error["msg"])
            problems.append(f"invalid setting {_describe(field)}: {message}")
        raise SettingsError("; ".join(problems)) from None
