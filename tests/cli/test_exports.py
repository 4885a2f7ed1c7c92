"""The public faces of the packages helper C owns: complete and sorted `__all__`."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = (
    "minertrace.chain",
    "minertrace.chain.local",
    "minertrace.chain.bittensor",
    "minertrace.weights",
    "minertrace.cli",
)


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions and modules.
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_every_public_member_defined_in_the_package(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", name).startswith(name)
    }
    assert public - set(module.__all__) == set()
