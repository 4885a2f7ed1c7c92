"""Helpers of the JSON-command tests (tests/hardening): seeds, mutations, in-process runs."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from typer.testing import CliRunner

from minertrace.cli import app

CONFORMANCE = Path(__file__).resolve().parents[1] / "data" / "conformance"
WEIGHT_SEEDS = ("case_08.json", "case_12.json", "case_13.json", "case_14.json")
YUMA_SEEDS = tuple(sorted(p.name for p in (CONFORMANCE / "yuma").glob("*.json")))

_runner = CliRunner()

SPECIAL_NUMBERS = (
    -1,
    0,
    1,
    2,
    65535,
    65536,
    2**31,
    2**63,
    2**64,
    10**12,
    10**400,
    -(2**63) - 1,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -0.0,
    0.5,
)
SPECIAL_TEXT = ("", "\x00", "\ud800", "[/]", "[red]x", "2025-07-27T07:05:26+00:00", "NaN", "yuma3")

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(SPECIAL_TEXT),
    st.text(max_size=6),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def load_seed(kind: str, name: str) -> dict[str, Any]:
    """A conformance file without its expected results (smaller, and irrelevant here)."""
    doc: dict[str, Any] = json.loads((CONFORMANCE / kind / name).read_text())
    for key in ("expected", "chain_emulation", "checks", "meta"):
        doc.pop(key, None)
    return doc


def mutate(doc: Any, data: st.DataObject) -> Any:
    """Apply one random structural or value mutation at a random place of `doc`."""
    parent: Any = None
    key: Any = None
    node = doc
    for _ in range(data.draw(st.integers(0, 4), label="depth")):
        if isinstance(node, dict) and node:
            step: Any = data.draw(st.sampled_from(sorted(node)), label="key")
        elif isinstance(node, list) and node:
            step = data.draw(st.integers(0, len(node) - 1), label="index")
        else:
            break
        parent, key, node = node, step, node[step]
    op = data.draw(st.sampled_from(("replace", "delete", "truncate", "extend", "nest")), label="op")
    if op == "truncate" and isinstance(node, list) and node:
        del node[data.draw(st.integers(0, len(node) - 1), label="cut") :]
    elif op == "extend" and isinstance(node, list):
        node.extend(data.draw(st.lists(VALUES, min_size=1, max_size=3), label="more"))
    elif op == "delete" and parent is not None:
        del parent[key]
    elif op == "nest" and parent is not None:
        parent[key] = [node]
    elif parent is not None:
        parent[key] = data.draw(VALUES, label="value")
    else:
        return data.draw(VALUES, label="root")
    return doc


@dataclass
class Outcome:
    """What a command did: exit status, stdout, stderr, and an escaped exception if any."""

    code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def invoke(args: list[str]) -> Outcome:
    """Run `minertrace ARGS` in-process, with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _runner.invoke(app, args)
    escaped = result.exception
    if isinstance(escaped, SystemExit):
        escaped = None
    return Outcome(result.exit_code, result.stdout, result.stderr, escaped)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-strict JSON constant {name}")


def assert_clean(outcome: Outcome, *, as_json: bool) -> None:
    """Exit 0 (strict JSON on stdout when asked for) or 2 with one `error:` line."""
    assert outcome.exception is None, repr(outcome.exception)
    assert outcome.code in (0, 2), (outcome.code, outcome.stderr)
    assert "Traceback" not in outcome.stdout + outcome.stderr
    if outcome.code == 2:
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), outcome.stderr
    elif as_json:
        json.loads(outcome.stdout, parse_constant=_reject_constant)
