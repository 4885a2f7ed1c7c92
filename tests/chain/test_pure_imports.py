"""The pure core stays pure: `weights/` and `chain/` (outside the bittensor adapter) import
no terminal, database or network library."""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import minertrace.chain
import minertrace.weights

FORBIDDEN = ("typer", "rich", "click", "sqlalchemy", "psycopg", "alembic", "pgserver", "bittensor")


def _core_modules() -> list[str]:
    names = []
    for package in (minertrace.weights, minertrace.chain):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.startswith("minertrace.chain.bittensor"):
                names.append(info.name)
    return sorted(names)


def _loaded_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def test_core_imports_no_shell_library() -> None:
    modules = _core_modules()
    assert "minertrace.chain.local.chain" in modules and "minertrace.weights.engine" in modules
    loaded = _loaded_after_importing(modules)
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []
    assert [m for m in loaded if m.startswith(("minertrace.cli", "minertrace.db"))] == []


def test_the_check_sees_the_adapter_import_the_sdk() -> None:
    if importlib.util.find_spec("bittensor") is None and not os.environ.get("CI"):
        pytest.skip("the bittensor extra is not installed")
    loaded = _loaded_after_importing(["minertrace.chain.bittensor"])
    assert "bittensor" in loaded
