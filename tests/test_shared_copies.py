"""The spec and conformance vectors are copies of the project's shared files, byte for byte.

The originals live in `../shared` beside the repository (or in `$MINERTRACE_SHARED_DIR`); a
user's clone has neither, and then there is nothing to compare.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MINERTRACE_SHARED_DIR", ROOT.parent / "shared"))
COPIES = {"conformance": ROOT / "tests" / "data" / "conformance", "spec": ROOT / "docs" / "spec"}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copy_is_identical_to_the_shared_original(name: str) -> None:
    original = SHARED / name
    if not original.is_dir():
        pytest.skip(f"no shared originals at {original} (a clone outside the project workspace)")
    expected, actual = _files(original), _files(COPIES[name])
    assert sorted(actual) == sorted(expected), "the copy has other files than the original"
    differing = [path for path in expected if actual[path] != expected[path]]
    assert not differing, f"differs from {original}: {differing}"
