"""What-if replay: recompute a stored cycle from the database alone.

`replay_cycle(bind, cycle_id, overrides)` reads the cycle's stored config, its replay inputs
(`weight_submissions.inputs`: node snapshot, active validators, encoding parameters, `now`)
and its score rows by (task_name, task_id); recomputes the cycle with the rules that computed
it (the `rules` scalar: Gaia's or the subnet template's, the latter from the moving-average
state the cycle stored) and the stored config, and checks it reproduces the stored vectors bit
for bit; with overrides of that config, recomputes it again and diffs the two per UID.

It refuses, saying why, rather than guess: when the cycle predates the inputs column
(revision 0003), or when retention has removed some of its score rows (they are named).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from minertrace.store import transaction
from minertrace.store.views import ReplaySource, StoredScoreRow, replay_source, score_rows_by_key
from minertrace.validator.replay_diff import ReplayDiff, Verification, diff_traces, verify_trace
from minertrace.validator.replay_inputs import InputsFormatError, StoredInputs, parse_inputs
from minertrace.validator.replay_overrides import (
    ROW_SELECTION_FIELDS,
    apply_overrides,
    parse_assignments,
)
from minertrace.vocabulary import SCORE_TASK_GEOMAGNETIC, SCORE_TASK_WEATHER, SOIL_TASK_PREFIX
from minertrace.weights import CycleInputs, ScoreRow, WeightConfig
from minertrace.weights.rules import (
    DEFAULT_RULES,
    RULES,
    StoredCycle,
    WeightRules,
    hotkeys_by_uid,
    rules_by_name,
)


class ReplayError(RuntimeError):
    """The cycle cannot be replayed; the message says why."""


class CycleNotFoundError(ReplayError, LookupError):
    """No weight_submissions row has this id."""


class MissingInputsError(ReplayError):
    """Some inputs of the cycle are gone (retention) or were never stored."""

    def __init__(self, message: str, missing_rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.missing_rows = missing_rows or []


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of one replay."""

    cycle_id: int
    overrides: dict[str, Any]
    verification: Verification
    diff: ReplayDiff | None
    notes: list[str] = field(default_factory=list)
    rules: str = DEFAULT_RULES
    """The rules that computed (and recomputed) the cycle."""

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON form (`replay --json`, the API)."""
        out: dict[str, Any] = {
            "cycle_id": self.cycle_id,
            "rules": self.rules,
            "overrides": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.overrides.items()
            },
            "verification": dataclasses.asdict(self.verification),
            "diff": None,
            "notes": list(self.notes),
        }
        if self.diff is not None:
            d = self.diff
            out["diff"] = {
                "summary": {
                    "changed": len(d.changes),
                    "gainers": d.gainers,
                    "losers": d.losers,
                    "pathway_changes": d.pathway_changes,
                    "weight_moved": d.weight_moved,
                    "largest_gains": [_change(c) for c in d.largest_gains],
                    "largest_losses": [_change(c) for c in d.largest_losses],
                },
                "changes": [_change(c) for c in d.changes],
            }
        return _finite(out)  # type: ignore[no-any-return]


def _change(c: Any) -> dict[str, Any]:
    return {**dataclasses.asdict(c), "delta": c.delta}


def _finite(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _missing_message(cycle_id: int, gone: list[StoredScoreRow], total: int) -> str:
    names = ", ".join(f"{r.task_name}/{r.task_id}" for r in gone[:20])
    more = f" and {len(gone) - 20} more" if len(gone) > 20 else ""
    return (
        f"cycle {cycle_id} cannot be replayed: {len(gone)} of its {total} score rows are no "
        f"longer in score_table (removed by retention?): {names}{more}"
    )


def _score_rows(
    conn: Connection, src: ReplaySource
) -> tuple[list[ScoreRow], list[ScoreRow], list[ScoreRow]]:
    keys = [(str(r["task_name"]), r.get("task_id")) for r in src.score_rows]
    found = score_rows_by_key(conn, keys)
    gone = [r for r in found if not r.found]
    if gone:
        raise MissingInputsError(
            _missing_message(src.id, gone, len(found)),
            [{"task_name": r.task_name, "task_id": r.task_id} for r in gone],
        )
    weather: list[ScoreRow] = []
    geomagnetic: list[ScoreRow] = []
    soil: list[ScoreRow] = []
    for r in found:
        assert r.created_at is not None
        # NULL elements are "no entry", as when the cycle read them.
        score = np.asarray([np.nan if v is None else v for v in r.score or []], dtype=np.float64)
        row = ScoreRow(r.task_name, r.task_id, score, r.created_at)
        if r.task_name == SCORE_TASK_WEATHER:
            weather.append(row)
        elif r.task_name == SCORE_TASK_GEOMAGNETIC:
            geomagnetic.append(row)
        elif r.task_name.startswith(SOIL_TASK_PREFIX):
            soil.append(row)
    return weather, geomagnetic, soil


def _inputs(
    src: ReplaySource, stored: StoredInputs, rows: tuple[list[ScoreRow], ...]
) -> CycleInputs:
    weather, geomagnetic, soil = rows
    return CycleInputs(
        weather_results=weather,
        geomagnetic_results=geomagnetic,
        soil_results=soil,
        now=stored.now,
        nodes=stored.nodes,
        active_validator_uids=stored.active_validator_uids,
        n_uids=src.n_uids,
        max_weight_limit=stored.max_weight_limit,
        min_allowed_weights=stored.min_allowed_weights,
    )


def _rules(src: ReplaySource) -> WeightRules:
    """The rules that computed the cycle, with its stored config."""
    name = src.rules or DEFAULT_RULES
    if name not in RULES:
        raise ReplayError(
            f"cycle {src.id} was computed by the {name!r} weight rules, which minertrace does not "
            f"implement (recorded through minertrace.recorder); replay recomputes cycles of the "
            f"{', '.join(repr(n) for n in sorted(RULES))} rules"
        )
    try:
        return rules_by_name(name, dict(src.config))
    except (TypeError, ValueError) as exc:
        raise ReplayError(f"cycle {src.id}: its stored config is not readable: {exc}") from None


def _load(
    bind: Engine | Connection, cycle_id: int
) -> tuple[ReplaySource, CycleInputs, WeightRules]:
    with transaction(bind) as conn:
        src = replay_source(conn, cycle_id)
        if src is None:
            raise CycleNotFoundError(f"cycle {cycle_id} does not exist")
        rules = _rules(src)
        if src.inputs is None:
            raise MissingInputsError(
                f"cycle {cycle_id} cannot be replayed: it was recorded before minertrace stored "
                "replay inputs (node list, active validators, subnet parameters; revision 0003)"
            )
        try:
            stored = parse_inputs(src.inputs)
        except InputsFormatError as exc:
            raise ReplayError(f"cycle {cycle_id} cannot be replayed: {exc}") from None
        rows = _score_rows(conn, src)
    return src, _inputs(src, stored, rows), rules


def stored_config(src: ReplaySource) -> WeightConfig:
    """The WeightConfig of a cycle computed by Gaia's rules."""
    try:
        return WeightConfig.from_dict(dict(src.config))
    except (TypeError, ValueError) as exc:
        raise ReplayError(f"cycle {src.id}: its stored config is not readable: {exc}") from None


def _replay(
    src: ReplaySource, inputs: CycleInputs, rules: WeightRules, overrides: dict[str, Any]
) -> ReplayReport:
    # Rules that carry state (the template's moving average) start from the state the cycle
    # itself stored, so the replay needs no earlier row.
    previous = rules.replay_previous(StoredCycle.from_row(src.stages, src.scalars))
    changed = apply_overrides(rules.config, overrides) if overrides else None
    base = rules.compute(inputs, previous)
    verification = verify_trace(
        base,
        src.stages,
        src.final_weights,
        (src.submitted_uids, src.submitted_weights, src.submitted_u16),
    )
    notes: list[str] = []
    if not verification.stages_stored:
        notes.append(
            "the cycle stored no stage vectors (enable_detailed_pathways off): only the final "
            "and submitted weights were compared"
        )
    ignored = sorted(ROW_SELECTION_FIELDS & set(overrides))
    if ignored:
        notes.append(
            f"{', '.join(ignored)} only select which score rows a live cycle reads; replay keeps "
            "the rows the cycle used, so they change nothing here"
        )
    diff = None
    if changed is not None:
        after = rules_by_name(rules.name, changed.to_dict()).compute(inputs, previous)
        diff = diff_traces(base, after, hotkeys_by_uid(inputs.node_list, base.n_uids))
    return ReplayReport(src.id, overrides, verification, diff, notes, rules.name)


def replay_cycle(
    bind: Engine | Connection, cycle_id: int, overrides: dict[str, Any] | None = None
) -> ReplayReport:
    """Replay cycle `cycle_id`, optionally with `overrides` (already typed) of the config of
    the rules that computed it (`WeightConfig` for Gaia's, `TemplateConfig` for the
    template's).

    Raises `CycleNotFoundError`, `MissingInputsError` (rows gone or never stored),
    `ReplayError` (unreadable stored data, rules minertrace does not implement) or
    `OverrideError` (bad override).
    """
    src, inputs, rules = _load(bind, cycle_id)
    return _replay(src, inputs, rules, dict(overrides or {}))


def replay_assignments(
    bind: Engine | Connection, cycle_id: int, assignments: Sequence[str]
) -> ReplayReport:
    """`replay_cycle` with `FIELD=VALUE` overrides, parsed by the fields of the config of the
    rules that computed the cycle (so `--set` names what that cycle's rules know)."""
    src, inputs, rules = _load(bind, cycle_id)
    overrides = parse_assignments(assignments, type(rules.config))
    return _replay(src, inputs, rules, overrides)


def replay_request(
    bind: Engine | Connection, cycle_id: int, assignments: Sequence[str]
) -> dict[str, Any]:
    """`replay_cycle` for a caller holding text: `FIELD=VALUE` overrides in, strict JSON out.

    The web app receives it from `minertrace serve` (the web layer does not import the
    validator). Errors by kind: `CycleNotFoundError` is a LookupError, a bad override an
    `OverrideError` (ValueError), a refusal a `ReplayError` (RuntimeError).
    """
    return replay_assignments(bind, cycle_id, assignments).to_dict()


__all__ = [
    "CycleNotFoundError",
    "MissingInputsError",
    "ReplayError",
    "ReplayReport",
    "replay_assignments",
    "replay_cycle",
    "replay_request",
    "stored_config",
]
