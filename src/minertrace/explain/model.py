"""`explain(uid)`: why a miner has the weight it has, and what the chain made of it.

Reads, for one UID, in three statements on one connection (plus one more only when the miner
had no score in any window; see `minertrace.store.explain`): its node_table row, the cycle
with only this UID's element of every stage vector, and its latest stats row. From those it
lists the path score -> weight stage by stage and, when the weight that reached the chain is
zero, the reasons in plain language, most fundamental first (`minertrace.explain.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine

from minertrace.explain.errors import InvalidUidError, UnknownCycleError, UnknownUidError
from minertrace.explain.facts import Facts, gather
from minertrace.explain.parts import ChainInfo, CycleInfo, Reason, Stage, StageValue
from minertrace.explain.reasons import has_no_task, judge, judge_without_cycle
from minertrace.explain.stages import stages
from minertrace.store import transaction
from minertrace.store.explain import (
    MAX_CYCLE_ID,
    MAX_UID,
    cycle_owner,
    last_score_entry,
    node_count,
    read_cycle,
    read_node,
    read_stats,
)
from minertrace.weights.jsonsafe import finite_or_null
from minertrace.weights.rules import DEFAULT_RULES

__all__ = ["Explanation", "assemble", "explain", "summary"]


@dataclass(frozen=True)
class Explanation:
    """Everything `minertrace explain` shows for one UID."""

    uid: int
    hotkey: str | None
    coldkey: str | None
    registered: bool
    validator_permit: bool | None
    cycle: CycleInfo | None
    stages: tuple[Stage, ...]
    chain: ChainInfo
    weight: float | None
    """The weight submitted for the UID in the cycle (sums to 1 over the subnet)."""
    u16: int | None
    zero: bool
    """True when the cycle put no weight on the UID on chain."""
    reasons: tuple[Reason, ...]
    """Why the weight is zero, most fundamental first (empty when it is not zero)."""
    notes: tuple[Reason, ...]
    """What reduced a non-zero weight, or facts worth knowing."""
    summary: str
    details_stored: bool
    """False when the cycle stored no stage vectors (`enable_detailed_pathways` off)."""

    def stage(self, name: str) -> StageValue:
        """The value of a stage by name (None when absent)."""
        return next((s.value for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-able form (`minertrace explain --json`, the HTTP API)."""
        out = {
            "uid": self.uid,
            "hotkey": self.hotkey,
            "coldkey": self.coldkey,
            "registered": self.registered,
            "validator_permit": self.validator_permit,
            "cycle": None if self.cycle is None else self.cycle.to_dict(),
            "stages": {s.name: s.value for s in self.stages},
            "chain": self.chain.to_dict(),
            "weight": self.weight,
            "u16": self.u16,
            "zero": self.zero,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "notes": [{"code": r.code, "message": r.message} for r in self.notes],
            "summary": self.summary,
            "details_stored": self.details_stored,
        }
        cleaned: dict[str, Any] = finite_or_null(out)
        return cleaned


def explain(
    bind: Engine | Connection,
    uid: int,
    *,
    validator_hotkey: str | None = None,
    cycle_id: int | None = None,
) -> Explanation:
    """Explain UID `uid`'s weight in the latest cycle (of `validator_hotkey`), or in cycle
    `cycle_id`.

    Raises `InvalidUidError` (an `UnknownUidError`) when `uid` cannot be a UID,
    `UnknownUidError` when it is not in node_table, outside every recorded cycle and without
    stats, and `UnknownCycleError` when cycle `cycle_id` does not exist (or is not one of
    `validator_hotkey`'s).
    """
    if not 0 <= uid <= MAX_UID:
        raise InvalidUidError(f"UID {uid} is not valid: UIDs are integers from 0 to {MAX_UID}")
    if cycle_id is not None and not 1 <= cycle_id <= MAX_CYCLE_ID:
        raise UnknownCycleError(f"cycle {cycle_id} does not exist")
    with transaction(bind) as conn:
        node = read_node(conn, uid)
        cycle = read_cycle(conn, uid, validator_hotkey=validator_hotkey, cycle_id=cycle_id)
        if cycle is None and cycle_id is not None:
            raise _missing_cycle(conn, cycle_id, validator_hotkey)
        stats = read_stats(conn, uid)
        if node is None and (cycle is None or uid >= cycle.n_uids) and stats is None:
            raise UnknownUidError(
                f"UID {uid} is unknown: it is not in node_table (the subnet has "
                f"{node_count(conn)} UIDs as of the last node sync) and no recorded cycle "
                "includes it"
            )
        facts = gather(uid, node, cycle, stats)
        if facts.subject is not None and has_no_task(facts.subject):
            facts = facts.with_last_entry(last_score_entry(conn, uid))
    return assemble(facts)


def assemble(facts: Facts) -> Explanation:
    """The explanation of typed facts: stages, verdict and summary (no database)."""
    node, s = facts.node, facts.subject
    cycle: CycleInfo | None = None
    stage_list: tuple[Stage, ...] = ()
    weight: float | None = None
    u16: int | None = None
    details = True
    if s is None:
        registered = node is not None and bool(node.hotkey)
        verdict = judge_without_cycle(facts.uid, registered)
    else:
        registered, verdict, cycle = s.registered, judge(s), s.cycle
        stage_list, weight, u16, details = (
            stages(s.values, s.cycle.rules),
            s.weight,
            s.u16,
            s.details_stored,
        )
    exp = Explanation(
        uid=facts.uid,
        hotkey=node.hotkey if node is not None else None,
        coldkey=node.coldkey if node is not None else None,
        registered=registered,
        validator_permit=node.validator_permit if node is not None else None,
        cycle=cycle,
        stages=stage_list,
        chain=facts.chain,
        weight=weight,
        u16=u16,
        zero=verdict.zero,
        reasons=verdict.reasons,
        notes=verdict.notes,
        summary="",
        details_stored=details,
    )
    return replace(exp, summary=summary(exp))


def summary(exp: Explanation) -> str:
    """One sentence: the weight and the first reason, or the pathway and the incentive."""
    c = exp.cycle
    if c is None:
        return f"UID {exp.uid}: no weight cycle recorded yet."
    head = f"UID {exp.uid} in cycle {c.id} ({c.status.value})"
    if exp.zero:
        first = exp.reasons[0].message if exp.reasons else "its weight is 0"
        return f"{head}: weight 0 because {first}."
    w = exp.weight if exp.weight is not None else float("nan")
    text = f"{head}: weight {w:.6f} (u16 {exp.u16})"
    if c.rules == DEFAULT_RULES:
        text += f" via the {exp.stage('pathway') or '?'} pathway"
    else:
        text += f" under the {c.rules} rules"
    inc = exp.chain.incentive
    if inc is not None:
        text += f"; the chain gave it incentive {inc:.6f}"
        if exp.chain.consensus_rank is not None:
            text += f" (consensus rank {exp.chain.consensus_rank})"
    return text + "."


def _missing_cycle(conn: Connection, cycle_id: int, validator_hotkey: str | None) -> LookupError:
    owner = cycle_owner(conn, cycle_id)
    if owner is None:
        return UnknownCycleError(f"cycle {cycle_id} does not exist")
    return UnknownCycleError(
        f"cycle {cycle_id} is a cycle of validator {owner}, not of {validator_hotkey}"
    )
