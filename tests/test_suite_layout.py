"""The test suite's own convention (see `tests/helpers/__init__.py`), checked statically.

Shared code lives in the `tests.helpers` package; fixtures live in `conftest.py` files; no
test module imports another test module or a conftest; `test_*.py` basenames are unique,
as pytest's default ("prepend") import mode needs with no `__init__.py` in test folders.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
HELPERS = TESTS / "helpers"


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(level, dotted name) of every import in the file, including those inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""


def test_every_file_is_a_test_a_conftest_or_a_helper() -> None:
    misplaced = [
        str(p.relative_to(TESTS))
        for p in _python_files()
        if not p.is_relative_to(HELPERS)
        and p.name != "conftest.py"
        and not p.name.startswith("test_")
    ]
    assert misplaced == [], "shared test code belongs in tests/helpers/"


def test_helpers_hold_no_tests() -> None:
    assert [p.name for p in HELPERS.glob("test_*.py")] == []


def test_test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in _python_files() if p.name.startswith("test_"))
    assert [name for name, count in names.items() if count > 1] == []


def test_no_test_module_imports_a_test_module_or_a_conftest() -> None:
    local = {p.stem for p in _python_files()} - {"__init__"}
    offenders = []
    for path in _python_files():
        for level, module in _imported_modules(path):
            parts = module.split(".") if module else []
            bare_local = level == 0 and bool(parts) and parts[0] in local
            outside_helpers = level == 0 and parts[:1] == ["tests"] and parts[1:2] != ["helpers"]
            relative = level > 0 and not path.is_relative_to(HELPERS)
            if bare_local or outside_helpers or relative:
                offenders.append(f"{path.relative_to(TESTS)}: {'.' * level}{module}")
    assert offenders == [], "import shared test code from tests.helpers.<area>"
