"""The simulator and the store sit below the validator: importing them loads no upper layer."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("minertrace.sim", ("minertrace.validator", "minertrace.cli")),
        ("minertrace.store", ("minertrace.validator", "minertrace.stats", "minertrace.sim")),
        ("minertrace.stats", ("minertrace.validator", "minertrace.sim", "minertrace.cli")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        f"import sys, {package}\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({forbidden!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == []
