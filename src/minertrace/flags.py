"""The Bittensor-style command-line flags of the settings, in a module the CLI imports cheaply.

`minertrace.config` parses them; the CLI lists them in `run --help` without importing the
settings machinery (pydantic, SQLAlchemy), which keeps help fast.
"""

from __future__ import annotations

from enum import Enum

# Bittensor-style flag -> settings field.
FLAGS: dict[str, str] = {
    "--netuid": "netuid",
    "--subtensor.network": "subtensor_network",
    "--subtensor.chain_endpoint": "subtensor_chain_endpoint",
    "--wallet.name": "wallet_name",
    "--wallet.hotkey": "wallet_hotkey",
    "--wallet.path": "wallet_path",
    "--database-url": "database_url",
    "--data-dir": "data_dir",
}


class RulesName(str, Enum):
    """The names of `minertrace.weights.rules.RULES`: the values of `weight_rules`."""

    GAIA = "gaia"
    TEMPLATE = "template"


WEIGHT_RULES: tuple[str, ...] = tuple(r.value for r in RulesName)

__all__ = ["FLAGS", "WEIGHT_RULES", "RulesName"]
