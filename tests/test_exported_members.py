"""Every package under `src/minertrace` declares its public face: a complete, sorted `__all__`.

Checked statically (with `ast`), so optional extras such as `bittensor` need not be installed;
the documentation's examples must import from these faces only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGES = sorted(p.parent for p in (SRC / "minertrace").rglob("__init__.py"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _package_name(directory: Path) -> str:
    return ".".join(directory.relative_to(SRC).parts)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module's top level defines or imports (what `from pkg import *` could see)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "__all__":
            return list(ast.literal_eval(value))
    return None


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    """The order ruff's RUF022 enforces: CONSTANTS, then Classes, then the rest, each in
    natural order (digits compared as numbers)."""
    if len(name) > 1 and name.upper() == name and name.lower() != name:
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    natural: list[int | str] = [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    return kind, natural


def test_every_package_is_found() -> None:
    names = {_package_name(p) for p in PACKAGES}
    assert {"minertrace", "minertrace.db", "minertrace.weights"} <= names


@pytest.mark.parametrize("package", PACKAGES, ids=_package_name)
def test_all_is_complete_and_sorted(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text())
    declared = _declared_all(tree)
    assert declared is not None, f"{_package_name(package)} has no __all__"
    assert declared == sorted(declared, key=_isort_key), "__all__ is not sorted"
    assert len(set(declared)) == len(declared), "__all__ lists a name twice"
    bound = _bound_names(tree) - {"__all__", "annotations"}
    public = {n for n in bound if not n.startswith("_")}
    dunders = {n for n in bound if n.startswith("__") and n.endswith("__")}
    assert public <= set(declared), f"public but not in __all__: {sorted(public - set(declared))}"
    assert set(declared) <= public | dunders, (
        f"in __all__ but not defined: {sorted(set(declared) - public - dunders)}"
    )


_FROM_IMPORT = re.compile(r"^\s*from\s+(minertrace[\w.]*)\s+import\s+\(?([^)#\n]+)", re.M)
_PLAIN_IMPORT = re.compile(r"^\s*import\s+(minertrace[\w.]*)", re.M)
_CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _doc_imports() -> list[tuple[str, str, list[str]]]:
    found = []
    for doc in DOCS:
        for block in _CODE_BLOCK.findall(doc.read_text()):
            for module, names in _FROM_IMPORT.findall(block):
                parts = [n.strip().split(" as ")[0] for n in names.split(",")]
                found.append((doc.name, module, [p for p in parts if p]))
            for module in _PLAIN_IMPORT.findall(block):
                found.append((doc.name, module, []))
    return found


def test_the_docs_have_python_examples() -> None:
    assert _doc_imports(), "no `from minertrace... import` in any ```python block"


@pytest.mark.parametrize(("doc", "module", "names"), _doc_imports())
def test_docs_import_from_package_faces_only(doc: str, module: str, names: list[str]) -> None:
    face = SRC.joinpath(*module.split(".")) / "__init__.py"
    if not face.exists() and module.count(".") == 1:
        # A top-level module with its own `__all__` (`minertrace.vocabulary`) is a face too.
        face = face.parent.with_suffix(".py")
    assert face.exists(), f"{doc} imports the module {module}, not a package face"
    declared = _declared_all(ast.parse(face.read_text()))
    assert declared is not None, f"{doc} imports from {module}, which has no __all__"
    missing = [n for n in names if n not in declared]
    assert not missing, f"{doc}: {module} does not export {missing}"
