"""`explain(uid)`: why a miner has the weight it has, and what the chain made of it.

Reads, for one UID, in three queries on one connection (plus one more only when the miner
had no score in any window):

- its node_table row (hotkey, coldkey, permit, the last synced incentive);
- the latest weight_submissions row (of one validator hotkey, or of any): the cycle's status,
  block, hash and verification, the scalars, and *only this UID's element* of every stage
  vector (extracted in SQL, so a 4,096-UID trace is not shipped whole);
- its latest miner_performance_stats row: the chain columns (incentive, consensus_rank,
  consensus_block, weight_submission_block) and, when the trace has no stage vectors
  (`enable_detailed_pathways` off), the pipeline columns.

From those it lists the path score → weight stage by stage, and when the weight that reached
the chain is zero, the reasons in plain language, most fundamental first.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from minertrace.validator._bind import transaction
from minertrace.weights.config import WeightConfig
from minertrace.weights.pathways import PATHWAY_LABELS

TASK_LABELS = {"weather": "weather", "geomagnetic": "geomagnetic", "soil": "soil moisture"}
TASK_WINDOWS = {
    "weather": "the newest weather row of the last 15 days (final rows first)",
    "geomagnetic": "the geomagnetic rows of the last 24 h",
    "soil": "the soil moisture rows of the last 24 h",
}
NO_WEIGHTS_REASONS = {
    "all_zero": "every miner's weight was 0 after coldkey smoothing (no usable scores in the "
    "task windows)",
    "zero_max": "the largest weight was 0",
    "no_positive": "no miner had a positive weight",
    "zero_sum": "the transformed weights summed to 0",
}
U16_MAX = 65535


class UnknownUidError(LookupError):
    """The UID is neither registered nor part of any recorded cycle."""


@dataclass(frozen=True)
class Stage:
    """One step of the path, for one miner."""

    name: str
    label: str
    value: Any


@dataclass(frozen=True)
class Reason:
    """Why the weight is zero (or a note on what reduced it): a code and a sentence."""

    code: str
    message: str


@dataclass
class Explanation:
    """Everything `minertrace explain` shows for one UID."""

    uid: int
    hotkey: str | None
    coldkey: str | None
    registered: bool
    validator_permit: bool | None
    cycle: dict[str, Any] | None
    stages: list[Stage] = field(default_factory=list)
    chain: dict[str, Any] = field(default_factory=dict)
    weight: float | None = None
    """The weight submitted for the UID in the latest cycle (D6, sums to 1 over the subnet)."""
    u16: int | None = None
    zero: bool = True
    """True when the latest cycle put no weight on the UID on chain."""
    reasons: list[Reason] = field(default_factory=list)
    """Why the weight is zero, most fundamental first (empty when it is not zero)."""
    notes: list[Reason] = field(default_factory=list)
    """What reduced a non-zero weight, or facts worth knowing."""
    summary: str = ""
    details_stored: bool = True

    def stage(self, name: str) -> Any:
        """The value of a stage by name (None when absent)."""
        return next((s.value for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (`minertrace explain --json`)."""
        out = asdict(self)
        out["stages"] = {s.name: _json_value(s.value) for s in self.stages}
        out["reasons"] = [asdict(r) for r in self.reasons]
        out["notes"] = [asdict(r) for r in self.notes]
        return _json_value(out)  # type: ignore[no-any-return]


_NODE = text(
    """
    SELECT uid, hotkey, coldkey, validator_permit, incentive, last_updated
      FROM node_table WHERE uid = :uid
    """
)

_CYCLE = text(
    """
    SELECT w.id, w.validator_hotkey, w.netuid, w.computed_at, w.computed_block, w.n_uids,
           w.config, w.scalars, w.weights_produced, w.no_weights_reason,
           w.rank_based_fallback, w.status, w.error, w.block_number, w.block_hash,
           w.reveal_epoch, w.reveal_block, w.verified_at, w.verification, w.consensus_block,
           jsonb_array_length(w.attempts) AS n_attempts,
           w.stages IS NOT NULL AS has_stages,
           (SELECT jsonb_object_agg(s.key, s.value -> CAST(:uid AS integer))
              FROM jsonb_each(w.stages) AS s
             WHERE jsonb_typeof(s.value) = 'array') AS stage_values,
           w.final_weights[:uid + 1] AS final_weight,
           w.submitted_weights[array_position(w.submitted_uids, :uid)] AS submitted_weight,
           w.submitted_u16[array_position(w.submitted_uids, :uid)] AS submitted_u16,
           array_position(w.submitted_uids, :uid) IS NOT NULL AS in_submission
      FROM weight_submissions AS w
     WHERE (CAST(:hotkey AS text) IS NULL OR w.validator_hotkey = :hotkey)
       AND (CAST(:cycle_id AS bigint) IS NULL OR w.id = :cycle_id)
     ORDER BY w.computed_at DESC, w.id DESC
     LIMIT 1
    """
)

_STATS = text(
    """
    SELECT miner_hotkey, period_type, period_start, period_end, submitted_weight,
           raw_calculated_weight, excellence_weight, diversity_weight, scoring_pathway,
           pathway_details, multi_task_bonus, percentile_rank_weather,
           percentile_rank_geomagnetic, percentile_rank_soil, excellence_qualified_tasks,
           weather_weight_contribution, geomagnetic_weight_contribution,
           soil_weight_contribution, incentive, consensus_rank, consensus_block,
           weight_submission_block, last_active_time, validator_hotkey
      FROM miner_performance_stats
     WHERE miner_uid = :uid
     ORDER BY (period_type = 'daily') DESC, period_start DESC
     LIMIT 1
    """
)

# Only when the miner had no score in the windows: when did it last have one at all?
_LAST_ENTRY = text(
    """
    SELECT max(created_at)
      FROM score_table
     WHERE score[:uid + 1] IS NOT NULL AND score[:uid + 1] <> CAST('NaN' AS double precision)
    """
)


def explain(
    bind: Engine | Connection,
    uid: int,
    *,
    validator_hotkey: str | None = None,
    cycle_id: int | None = None,
) -> Explanation:
    """Explain UID `uid`'s weight in the latest cycle (of `validator_hotkey`, or `cycle_id`).

    Raises `UnknownUidError` when the UID is negative, not in node_table and outside every
    recorded cycle.
    """
    if uid < 0:
        raise UnknownUidError(f"UID {uid} is not valid: UIDs are integers >= 0")
    with transaction(bind) as conn:
        node = conn.execute(_NODE, {"uid": uid}).mappings().first()
        cycle = (
            conn.execute(_CYCLE, {"uid": uid, "hotkey": validator_hotkey, "cycle_id": cycle_id})
            .mappings()
            .first()
        )
        stats = conn.execute(_STATS, {"uid": uid}).mappings().first()
        if node is None and (cycle is None or uid >= cycle["n_uids"]) and stats is None:
            size = conn.execute(text("SELECT count(*) FROM node_table")).scalar()
            raise UnknownUidError(
                f"UID {uid} is unknown: it is not in node_table (the subnet has {size} UIDs "
                "as of the last node sync) and no recorded cycle includes it"
            )
        exp = _build(uid, node, cycle, stats)
        if exp.cycle is not None and _no_present_task(exp):
            last = conn.execute(_LAST_ENTRY, {"uid": uid}).scalar()
            exp.chain["last_score_entry_at"] = last
            _finish_no_present(exp, last)
    return exp


# ---------------------------------------------------------------- assembly


def _build(
    uid: int,
    node: Any,
    cycle: Any,
    stats: Any,
) -> Explanation:
    hotkey = node["hotkey"] if node is not None else None
    exp = Explanation(
        uid=uid,
        hotkey=hotkey,
        coldkey=node["coldkey"] if node is not None else None,
        registered=bool(node is not None and hotkey),
        validator_permit=node["validator_permit"] if node is not None else None,
        cycle=None,
    )
    stats_current = stats is not None and (hotkey is None or stats["miner_hotkey"] == hotkey)
    exp.chain = {
        "incentive": stats["incentive"] if stats_current else None,
        "consensus_rank": stats["consensus_rank"] if stats_current else None,
        "consensus_block": stats["consensus_block"] if stats_current else None,
        "weight_submission_block": stats["weight_submission_block"] if stats_current else None,
        "period": f"{stats['period_type']} from {stats['period_start'].isoformat()}"
        if stats_current
        else None,
        "node_incentive": node["incentive"] if node is not None else None,
        "last_active_time": stats["last_active_time"] if stats_current else None,
    }
    epoch_block, weights_block = exp.chain["consensus_block"], exp.chain["weight_submission_block"]
    # incentive comes from the last epoch; it reflects the latest weights only once an epoch
    # ran after the block that included them.
    if epoch_block is not None and weights_block is not None and epoch_block >= weights_block:
        exp.chain["consensus_delay_blocks"] = epoch_block - weights_block
    if cycle is None:
        exp.reasons.append(
            Reason("no_cycle", "no weight cycle has been recorded yet, so no weight was set")
        )
        if not exp.registered:
            exp.reasons.insert(0, _not_registered(uid))
        exp.summary = _summary(exp)
        return exp
    exp.cycle = _cycle_dict(cycle)
    exp.details_stored = bool(cycle["has_stages"])
    values: dict[str, Any] = dict(cycle["stage_values"] or {})
    if not exp.details_stored and stats_current:
        values.update(_from_stats(stats))
    values.setdefault("final", cycle["final_weight"])
    if cycle["in_submission"]:
        values.setdefault("submitted", cycle["submitted_weight"])
        values.setdefault("u16", cycle["submitted_u16"])
    exp.stages = _stages(values)
    exp.weight = _num(values.get("submitted"))
    exp.u16 = _int(values.get("u16"))
    _reasons(exp, cycle, values)
    exp.summary = _summary(exp)
    return exp


def _cycle_dict(cycle: Any) -> dict[str, Any]:
    scalars = cycle["scalars"] or {}
    return {
        "id": cycle["id"],
        "validator_hotkey": cycle["validator_hotkey"],
        "netuid": cycle["netuid"],
        "computed_at": cycle["computed_at"],
        "computed_block": cycle["computed_block"],
        "n_uids": cycle["n_uids"],
        "status": cycle["status"],
        "error": cycle["error"],
        "attempts": cycle["n_attempts"],
        "block_number": cycle["block_number"],
        "block_hash": cycle["block_hash"],
        "reveal_epoch": cycle["reveal_epoch"],
        "reveal_block": cycle["reveal_block"],
        "verified_at": cycle["verified_at"],
        "verification": cycle["verification"],
        "consensus_block": cycle["consensus_block"],
        "weights_produced": cycle["weights_produced"],
        "no_weights_reason": cycle["no_weights_reason"],
        "rank_based_fallback": cycle["rank_based_fallback"],
        "curve_midpoint": scalars.get("curve_midpoint"),
        "max_weight": scalars.get("max_weight"),
        "zeroed_validators": scalars.get("zeroed_validators") or [],
        "dropped_unregistered": scalars.get("dropped_unregistered") or [],
        "p85": {t: scalars.get(f"p85_{t}") for t in TASK_LABELS},
        "valid_count": {t: scalars.get(f"valid_count_{t}") for t in TASK_LABELS},
        "config": cycle["config"] or {},
    }


def _from_stats(stats: Any) -> dict[str, Any]:
    """Stage values recoverable from the stats row when the trace has no stage vectors."""
    details = stats["pathway_details"] or {}
    code = {label: c for c, label in PATHWAY_LABELS.items()}.get(stats["scoring_pathway"])
    out: dict[str, Any] = {
        "excellence": stats["excellence_weight"],
        "diversity": stats["diversity_weight"],
        "multi_task_bonus": stats["multi_task_bonus"],
        "raw_weight": stats["raw_calculated_weight"],
        "pathway": code,
        "rank_weather": stats["percentile_rank_weather"],
        "rank_geomagnetic": stats["percentile_rank_geomagnetic"],
        "rank_soil": stats["percentile_rank_soil"],
        "contribution_weather": stats["weather_weight_contribution"],
        "contribution_geomagnetic": stats["geomagnetic_weight_contribution"],
        "contribution_soil": stats["soil_weight_contribution"],
        "num_active_tasks": details.get("num_active_tasks"),
    }
    qualified = set(stats["excellence_qualified_tasks"] or [])
    for task in TASK_LABELS:
        score = details.get(f"{task}_score")
        out[f"score_{task}"] = score
        out[f"present_{task}"] = score is not None
        out[f"qualified_{task}"] = task in qualified
    return {k: v for k, v in out.items() if v is not None}


_STAGE_ORDER: list[tuple[str, str]] = [
    *(
        (f"{kind}_{task}", f"{TASK_LABELS[task]} {label}")
        for task in TASK_LABELS
        for kind, label in (
            ("score", "score (aggregated)"),
            ("present", "present"),
            ("rank", "percentile rank"),
            ("qualified", "excellence-qualified"),
            ("contribution", "diversity contribution"),
        )
    ),
    ("soil_completeness", "soil completeness factor"),
    ("num_active_tasks", "tasks present"),
    ("excellence", "E (excellence pathway)"),
    ("diversity", "D (diversity pathway, with bonus)"),
    ("multi_task_bonus", "multi-task bonus"),
    ("pathway", "pathway"),
    ("raw_weight", "raw weight max(E, D)"),
    ("coldkey_group_size", "coldkey group size"),
    ("coldkey_multiplier", "coldkey multiplier"),
    ("after_coldkey", "after coldkey smoothing"),
    ("normalized", "normalised (by the max)"),
    ("logistic", "logistic curve"),
    ("transformed", "transformed"),
    ("final", "final weight"),
    ("submitted", "submitted weight"),
    ("u16", "u16 sent to the chain"),
]


def _stages(values: dict[str, Any]) -> list[Stage]:
    out = []
    for name, label in _STAGE_ORDER:
        if name not in values:
            continue
        value = values[name]
        if name == "pathway" and value is not None:
            value = PATHWAY_LABELS.get(int(value), "no record")
        elif name.startswith(("present_", "qualified_")) and value is not None:
            value = bool(value)
        out.append(Stage(name, label, value))
    return out


# ---------------------------------------------------------------- reasons


def _reasons(exp: Explanation, cycle: Any, v: dict[str, Any]) -> None:
    c = exp.cycle
    assert c is not None
    cfg = _config(c["config"])
    uid = exp.uid
    status = c["status"]
    on_chain = status in ("included", "committed", "verified", "mismatch")
    exp.zero = not (exp.u16 and exp.u16 > 0 and on_chain)
    reasons: list[Reason] = []
    notes: list[Reason] = []

    if not exp.registered:
        reasons.append(_not_registered(uid))
    elif exp.validator_permit:
        reasons.append(
            Reason(
                "validator",
                f"UID {uid} holds a validator permit: it is a validator, not a miner, and "
                "validators are not scored",
            )
        )
    if uid >= c["n_uids"]:
        reasons.append(
            Reason(
                "not_in_cycle",
                f"UID {uid} was not part of cycle {c['id']}: the subnet had {c['n_uids']} UIDs "
                "when it was computed",
            )
        )
    if not c["weights_produced"]:
        why = c["no_weights_reason"] or "unknown"
        reasons.append(
            Reason(
                "no_weights_produced",
                f"no weights were produced in cycle {c['id']}: "
                f"{NO_WEIGHTS_REASONS.get(why, why)}; the validator set nothing on chain",
            )
        )
    present = [t for t in TASK_LABELS if v.get(f"present_{t}")]
    if uid < c["n_uids"] and not present and exp.details_stored:
        reasons.append(Reason("no_present_task", _no_task_message()))
    if uid in c["zeroed_validators"]:
        reasons.append(
            Reason(
                "validator_zeroed",
                f"UID {uid} is an active validator (validator permit and a recent weight "
                "update): validators' weights are set to 0 before submission",
            )
        )
    if uid in c["dropped_unregistered"]:
        reasons.append(
            Reason(
                "unregistered_in_cycle",
                f"UID {uid} had no hotkey in node_table when the cycle ran, so its weight "
                "was dropped and redistributed",
            )
        )
    group = _int(v.get("coldkey_group_size"))
    mult = _num(v.get("coldkey_multiplier"))
    if group is not None and group >= cfg.coldkey_upper:
        reasons.append(
            Reason(
                "coldkey_group",
                f"its coldkey{_named(exp.coldkey)} owns {group} registered hotkeys (>= "
                f"{cfg.coldkey_upper}): coldkey smoothing multiplies the weight by 0",
            )
        )
    elif group is not None and mult is not None and mult < 1:
        notes.append(
            Reason(
                "coldkey_group",
                f"its coldkey owns {group} hotkeys ({cfg.coldkey_lower}-{cfg.coldkey_upper - 1}):"
                f" coldkey smoothing multiplied the weight by {mult:.4f}",
            )
        )
    raw = _num(v.get("raw_weight"))
    if present and raw is not None and raw <= 0:
        reasons.append(
            Reason(
                "raw_zero",
                "it has scores but its raw weight is 0: no excellence-qualified task (E = 0) "
                "and a diversity value D <= 0",
            )
        )
    _curve_reason(exp, c, v, reasons, notes)
    _submission_reason(exp, c, reasons, notes)
    if c["rank_based_fallback"]:
        notes.append(
            Reason(
                "rank_fallback",
                "the transformed weights were nearly uniform, so this cycle used the 1/rank^1.2 "
                "fallback instead of the logistic curve",
            )
        )
    if exp.zero and not reasons:
        reasons.append(
            Reason("zero", "its weight in the latest cycle is 0 (no more specific cause found)")
        )
    exp.reasons = reasons if exp.zero else []
    exp.notes = notes if exp.zero else notes + reasons


def _curve_reason(
    exp: Explanation,
    c: dict[str, Any],
    v: dict[str, Any],
    reasons: list[Reason],
    notes: list[Reason],
) -> None:
    norm = _num(v.get("normalized"))
    midpoint = _num(c.get("curve_midpoint"))
    after = _num(v.get("after_coldkey"))
    if norm is None or midpoint is None or after is None or after <= 0:
        return
    if norm >= midpoint:
        return
    transformed = _num(v.get("transformed"))
    text_ = (
        f"its normalised weight {norm:.4f} is below the curve midpoint {midpoint:.4f} (the "
        "80th percentile of the positive weights), where the logistic curve is nearly flat"
    )
    if transformed is not None:
        text_ += f": it maps to {transformed:.3g}"
    if exp.u16 == 0 or (c["weights_produced"] and exp.u16 is None and exp.weight == 0):
        reasons.append(Reason("below_midpoint", text_ + ", which rounds to 0 in the u16 encoding"))
    else:
        notes.append(Reason("below_midpoint", text_))


def _submission_reason(
    exp: Explanation, c: dict[str, Any], reasons: list[Reason], notes: list[Reason]
) -> None:
    status = c["status"]
    if not c["weights_produced"]:
        return
    error = f": {c['error']}" if c.get("error") else ""
    if status == "failed":
        reasons.append(
            Reason(
                "submission_failed",
                f"the submission of cycle {c['id']} failed after {c['attempts']} attempt(s)"
                f"{error}; the validator's previous weights stay in force until the next cycle",
            )
        )
    elif status == "orphaned":
        reasons.append(
            Reason(
                "submission_orphaned",
                f"the block that included cycle {c['id']} ({c['block_number']}) was dropped by a "
                "reorg; the next cycle resubmits",
            )
        )
    elif status in ("computed", "submitting"):
        reasons.append(
            Reason(
                "not_submitted_yet",
                f"cycle {c['id']} is {status}: its weights have not reached the chain yet",
            )
        )
    elif status == "skipped":
        reasons.append(
            Reason("submission_skipped", f"cycle {c['id']} was skipped{error}; nothing was sent")
        )
    elif status == "mismatch":
        differing = (c.get("verification") or {}).get("differing_uids") or []
        if exp.uid in differing:
            notes.append(
                Reason(
                    "verification_mismatch",
                    "the chain's stored weight for this UID differs from the u16 value sent",
                )
            )
    elif status == "committed":
        notes.append(
            Reason(
                "committed",
                f"commit-reveal: the weights were committed and apply at epoch "
                f"{c['reveal_epoch']} (block {c['reveal_block']})",
            )
        )


def _no_task_message() -> str:
    parts = [f"{TASK_LABELS[task]} in {TASK_WINDOWS[task]}" for task in TASK_LABELS]
    return "it has no present task: no non-zero score in " + ", nor ".join(parts)


def _no_present_task(exp: Explanation) -> bool:
    return any(r.code == "no_present_task" for r in exp.reasons)


def _finish_no_present(exp: Explanation, last: datetime | None) -> None:
    for i, r in enumerate(exp.reasons):
        if r.code != "no_present_task":
            continue
        tail = (
            f". Its last score entry is from {last.isoformat()}"
            if last is not None
            else ". score_table holds no entry for this UID at all"
        )
        exp.reasons[i] = Reason(r.code, r.message + tail)


def _not_registered(uid: int) -> Reason:
    return Reason(
        "not_registered",
        f"UID {uid} has no registered hotkey in node_table (as of the last node sync)",
    )


def _summary(exp: Explanation) -> str:
    c = exp.cycle
    if c is None:
        return f"UID {exp.uid}: no weight cycle recorded yet."
    head = f"UID {exp.uid} in cycle {c['id']} ({c['status']})"
    if exp.zero:
        first = exp.reasons[0].message if exp.reasons else "its weight is 0"
        return f"{head}: weight 0 because {first}."
    pathway = exp.stage("pathway") or "?"
    w = exp.weight if exp.weight is not None else float("nan")
    text_ = f"{head}: weight {w:.6f} (u16 {exp.u16}) via the {pathway} pathway"
    inc = exp.chain.get("incentive")
    if inc is not None:
        rank = exp.chain.get("consensus_rank")
        text_ += f"; the chain gave it incentive {inc:.6f}"
        if rank is not None:
            text_ += f" (consensus rank {rank})"
    return text_ + "."


# ---------------------------------------------------------------- helpers


def _named(key: str | None) -> str:
    return f" {key}" if key else ""


def _config(data: dict[str, Any]) -> WeightConfig:
    try:
        return WeightConfig.from_dict(data) if data else WeightConfig()
    except (TypeError, ValueError):
        return WeightConfig()


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None if x is None else float(x)
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _int(x: Any) -> int | None:
    value = _num(x)
    return None if value is None else int(value)


def _json_value(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_value(v) for v in x]
    if isinstance(x, datetime):
        return x.isoformat()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
