"""The layering of `docs/DESIGN.md`, checked statically over the package's source.

Every `import` counts, including those inside functions and under `TYPE_CHECKING`: a
dependency hidden in a function is still a dependency.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "minertrace"

# Third-party libraries of the shell: the pure core and the chain protocol never touch them.
SHELL_LIBRARIES = {"sqlalchemy", "psycopg", "typer", "rich"}

# DESIGN.md's "may import" column, for the top-level parts of `minertrace`. `vocabulary` is
# standard-library only and `clock` a protocol, so any layer may use them.
LEAVES = {"vocabulary", "clock"}
MAY_IMPORT: dict[str, set[str]] = {
    "vocabulary": set(),
    "clock": set(),
    "weights": set(),
    "chain": {"weights"},
    "db": set(),
    # chain.types: the neuron records node sync writes are the chain protocol's own type.
    "store": {"db", "weights", "chain"},
    "stats": {"store", "db"},
    "explain": {"weights", "store"},
    "sim": {"store", "chain", "weights"},
    # observe: the metrics catalogue, its exporter, the health probe, quiet logs.
    "observe": {"weights", "chain", "store"},
    "web": {"explain", "store", "stats", "weights", "observe"},
    # The demo and `run` without a network drive the simulated subnet from the service; the
    # simulator itself never imports the service (checked below), so there is no cycle.
    "validator": {
        "weights",
        "chain",
        "db",
        "store",
        "stats",
        "explain",
        "config",
        "sim",
        "observe",
    },
}

SQL_BUILDERS = {"text", "select", "insert", "update", "delete"}
SQL_HOMES = {"store", "db"}
_SQL_STATEMENT = re.compile(
    r"^\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|DROP|ALTER|TRUNCATE)\s"
    r"|INSERT\s+INTO\s|DELETE\s+FROM\s|ON\s+CONFLICT\b|\bUPDATE\s+\w+\s+SET\s|\sFROM\s+\w+\s+WHERE\s"
)


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted, e.g. minertrace.chain.local.chain
    tree: ast.Module

    @property
    def part(self) -> str:
        """The top-level part of minertrace it belongs to (`chain`, `config`, ...)."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else ""

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> list[Module]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append(Module(path, ".".join(parts), ast.parse(path.read_text(), str(path))))
    return found


MODULES = _modules()


def _imports(module: Module) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import in the module, at any depth."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".")
                base = base[: len(base) - node.level + (1 if module.is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno
            # `from minertrace import weights` imports the part `weights`.
            if target == "minertrace":
                for alias in node.names:
                    yield f"minertrace.{alias.name}", node.lineno


def _part_of(imported: str) -> str | None:
    parts = imported.split(".")
    if parts[0] != "minertrace" or len(parts) < 2:
        return None
    return parts[1]


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(SRC)}:{line}"


def _in(module: Module, *prefixes: str) -> bool:
    return any(module.name == p or module.name.startswith(p + ".") for p in prefixes)


def test_the_source_is_found() -> None:
    names = {m.name for m in MODULES}
    assert {"minertrace.weights.engine", "minertrace.db.tables"} <= names


def test_core_and_chain_import_no_shell_library() -> None:
    offending = [
        f"{_where(m, line)} imports {name}"
        for m in MODULES
        if _in(m, "minertrace.weights", "minertrace.chain")
        and not _in(m, "minertrace.chain.bittensor")
        for name, line in _imports(m)
        if name.split(".")[0] in SHELL_LIBRARIES
    ]
    assert not offending, "\n".join(offending)


def test_weights_imports_numpy_and_the_standard_library_only() -> None:
    allowed = {"numpy", "minertrace", "__future__"} | set(sys.stdlib_module_names)
    offending = [
        f"{_where(m, line)} imports {name}"
        for m in MODULES
        if _in(m, "minertrace.weights")
        for name, line in _imports(m)
        if name.split(".")[0] not in allowed
    ]
    assert not offending, "\n".join(offending)


def _sql_in(module: Module) -> Iterator[str]:
    builders: set[str] = set()
    sqlalchemy_aliases: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            builders.update(a.asname or a.name for a in node.names if a.name in SQL_BUILDERS)
        elif isinstance(node, ast.Import):
            sqlalchemy_aliases.update(
                a.asname or a.name for a in node.names if a.name.startswith("sqlalchemy")
            )
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    in_fstrings = {
        id(v)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.JoinedStr)
        for v in node.values
    }
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in builders:
                yield f"{_where(module, node.lineno)}: {func.id}(...)"
            elif isinstance(func, ast.Attribute) and (
                func.attr == "exec_driver_sql"
                or (
                    func.attr in SQL_BUILDERS
                    and isinstance(func.value, ast.Name)
                    and func.value.id in sqlalchemy_aliases
                )
            ):
                yield f"{_where(module, node.lineno)}: .{func.attr}(...)"
        elif isinstance(node, ast.JoinedStr):
            literal = "".join(
                str(v.value) if isinstance(v, ast.Constant) else " x " for v in node.values
            )
            if _SQL_STATEMENT.search(literal):
                yield f"{_where(module, node.lineno)}: SQL in an f-string"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings | in_fstrings
            and _SQL_STATEMENT.search(node.value)
        ):
            yield f"{_where(module, node.lineno)}: SQL in a string"


def test_the_detector_finds_sql() -> None:
    source = (
        "from sqlalchemy import text as t\nimport sqlalchemy as sa\n"
        "a = t('x')\nb = sa.select(1)\n"
        "c = 'SELECT uid FROM node_table'\nd = f'DELETE FROM {x} WHERE y'\n"
        "e = 'Select the rows you want'\n"
    )
    module = Module(Path(SRC / "minertrace" / "x.py"), "minertrace.x", ast.parse(source))
    assert len(list(_sql_in(module))) == 4


def test_no_sql_outside_store_and_db() -> None:
    offending = [hit for m in MODULES if m.part not in SQL_HOMES for hit in _sql_in(m)]
    assert not offending, "\n".join(offending)


def _part_graph() -> dict[str, dict[str, str]]:
    """part -> {imported part: where the first such import is}."""
    graph: dict[str, dict[str, str]] = {}
    for m in MODULES:
        if not m.part:
            continue
        edges = graph.setdefault(m.part, {})
        for name, line in _imports(m):
            target = _part_of(name)
            if target and target != m.part:
                edges.setdefault(target, _where(m, line))
    return graph


def _cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": ""}, "b": {}}) == []


def test_no_import_cycle_between_parts() -> None:
    graph = _part_graph()
    described = []
    for component in _cycles(graph):
        edges = [
            f"  {a} -> {b} ({graph[a][b]})" for a in component for b in graph[a] if b in component
        ]
        described.append(" / ".join(component) + "\n" + "\n".join(edges))
    assert not described, "\n".join(described)


def test_sim_imports_no_validator() -> None:
    offending = [
        f"{_where(m, line)} imports {name}"
        for m in MODULES
        if m.part == "sim"
        for name, line in _imports(m)
        if _part_of(name) == "validator"
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_parts_import_what_the_design_allows(part: str) -> None:
    allowed = MAY_IMPORT[part] | LEAVES | {part}
    if part in LEAVES:
        allowed = {part}
    offending = [
        f"{_where(m, line)} imports {name}"
        for m in MODULES
        if m.part == part
        for name, line in _imports(m)
        if (target := _part_of(name)) is not None and target not in allowed
    ]
    assert not offending, "\n".join(offending)
