"""Why a weight is what it is: pure rules over one UID's view of one cycle.

Each rule looks at a `Subject` and returns a `Finding` or None. A finding is *fatal* when it
alone explains a zero weight; the others are notes. When the weight that reached the chain is
zero the fatal findings are the reasons, most fundamental first; otherwise every finding is a
note. No rule reads a database or a clock, and every number in a rule's text comes from the
cycle's `WeightConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from minertrace.explain.parts import CycleInfo, Reason
from minertrace.explain.stages import StageValues, integer, number
from minertrace.explain.wording import NO_WEIGHTS_REASONS, named, no_task_message, ordinal
from minertrace.vocabulary import ON_CHAIN_STATUSES, SubmissionStatus, Task
from minertrace.weights.rules import DEFAULT_RULES


@dataclass(frozen=True)
class Subject:
    """What the rules look at: one UID, its node, and its values in one cycle."""

    uid: int
    registered: bool
    validator_permit: bool | None
    coldkey: str | None
    cycle: CycleInfo
    values: StageValues
    """This UID's element of every stage vector (or what the stats row recovers of them)."""
    weight: float | None
    u16: int | None
    details_stored: bool = True
    last_score_entry: datetime | None = None
    """When score_table last held an entry for the UID (read only when it has no task)."""


@dataclass(frozen=True)
class Finding:
    """A reason, and whether it alone accounts for a zero weight."""

    reason: Reason
    fatal: bool


@dataclass(frozen=True)
class Verdict:
    """The rules' answer: is the weight on chain zero, and why."""

    zero: bool
    reasons: tuple[Reason, ...]
    notes: tuple[Reason, ...]


def not_registered(uid: int) -> Reason:
    """The UID has no hotkey in node_table."""
    return Reason(
        "not_registered",
        f"UID {uid} has no registered hotkey in node_table (as of the last node sync)",
    )


def registration(s: Subject) -> Finding | None:
    """Not registered, or a validator (validators are not scored)."""
    if not s.registered:
        return Finding(not_registered(s.uid), True)
    if s.validator_permit:
        return Finding(
            Reason(
                "validator",
                f"UID {s.uid} holds a validator permit: it is a validator, not a miner, and "
                "validators are not scored",
            ),
            True,
        )
    return None


def not_in_cycle(s: Subject) -> Finding | None:
    """The subnet was smaller than the UID when the cycle ran."""
    c = s.cycle
    if s.uid < c.n_uids:
        return None
    return Finding(
        Reason(
            "not_in_cycle",
            f"UID {s.uid} was not part of cycle {c.id}: the subnet had {c.n_uids} UIDs "
            "when it was computed",
        ),
        True,
    )


def no_weights_produced(s: Subject) -> Finding | None:
    """The cycle produced no weights at all."""
    c = s.cycle
    if c.weights_produced:
        return None
    why = c.no_weights_reason or "unknown"
    return Finding(
        Reason(
            "no_weights_produced",
            f"no weights were produced in cycle {c.id}: "
            f"{NO_WEIGHTS_REASONS.get(why, why)}; the validator set nothing on chain",
        ),
        True,
    )


def present_tasks(values: StageValues) -> tuple[Task, ...]:
    """The tasks in which the UID had a usable score."""
    return tuple(t for t in Task if values.get(f"present_{t.value}"))


def has_no_task(s: Subject) -> bool:
    """True when the UID was in the cycle with stage vectors stored but had no task present
    (the one rule that wants the UID's last score entry)."""
    return (
        s.cycle.rules == DEFAULT_RULES
        and s.uid < s.cycle.n_uids
        and s.details_stored
        and not present_tasks(s.values)
    )


def no_present_task(s: Subject) -> Finding | None:
    """No usable score in any task window."""
    if not has_no_task(s):
        return None
    last = s.last_score_entry
    tail = (
        f". Its last score entry is from {last.isoformat()}"
        if last is not None
        else ". score_table holds no entry for this UID at all"
    )
    return Finding(Reason("no_present_task", no_task_message(s.cycle.config) + tail), True)


def validator_zeroed(s: Subject) -> Finding | None:
    """An active validator: zeroed before submission."""
    if s.uid not in s.cycle.zeroed_validators:
        return None
    return Finding(
        Reason(
            "validator_zeroed",
            f"UID {s.uid} is an active validator (validator permit and a recent weight "
            "update): validators' weights are set to 0 before submission",
        ),
        True,
    )


def unregistered_in_cycle(s: Subject) -> Finding | None:
    """No hotkey when the cycle ran: its weight was dropped."""
    if s.uid not in s.cycle.dropped_unregistered:
        return None
    return Finding(
        Reason(
            "unregistered_in_cycle",
            f"UID {s.uid} had no hotkey in node_table when the cycle ran, so its weight "
            "was dropped and redistributed",
        ),
        True,
    )


def coldkey_group(s: Subject) -> Finding | None:
    """Coldkey smoothing: a group at the upper bound is zeroed, a smaller one scaled down."""
    cfg = s.cycle.config
    group = integer(s.values.get("coldkey_group_size"))
    mult = number(s.values.get("coldkey_multiplier"))
    if group is not None and group >= cfg.coldkey_upper:
        return Finding(
            Reason(
                "coldkey_group",
                f"its coldkey{named(s.coldkey)} owns {group} registered hotkeys (>= "
                f"{cfg.coldkey_upper}): coldkey smoothing multiplies the weight by 0",
            ),
            True,
        )
    if group is not None and mult is not None and mult < 1:
        return Finding(
            Reason(
                "coldkey_group",
                f"its coldkey owns {group} hotkeys ({cfg.coldkey_lower}-{cfg.coldkey_upper - 1}):"
                f" coldkey smoothing multiplied the weight by {mult:.4f}",
            ),
            False,
        )
    return None


def raw_zero(s: Subject) -> Finding | None:
    """Scores, but neither pathway gave a positive raw weight."""
    raw = number(s.values.get("raw_weight"))
    if not present_tasks(s.values) or raw is None or raw > 0:
        return None
    return Finding(
        Reason(
            "raw_zero",
            "it has scores but its raw weight is 0: no excellence-qualified task (E = 0) "
            "and a diversity value D <= 0",
        ),
        True,
    )


def below_midpoint(s: Subject) -> Finding | None:
    """Below the logistic curve's midpoint, where the curve is nearly flat."""
    c = s.cycle
    norm = number(s.values.get("normalized"))
    midpoint = c.curve_midpoint
    after = number(s.values.get("after_coldkey"))
    if norm is None or midpoint is None or after is None or after <= 0 or norm >= midpoint:
        return None
    text = (
        f"its normalised weight {norm:.4f} is below the curve midpoint {midpoint:.4f} (the "
        f"{ordinal(c.config.curve_midpoint_percentile)} percentile of the positive weights), "
        "where the logistic curve is nearly flat"
    )
    transformed = number(s.values.get("transformed"))
    if transformed is not None:
        text += f": it maps to {transformed:.3g}"
    if s.u16 == 0 or (c.weights_produced and s.u16 is None and s.weight == 0):
        return Finding(
            Reason("below_midpoint", text + ", which rounds to 0 in the u16 encoding"), True
        )
    return Finding(Reason("below_midpoint", text), False)


def submission(s: Subject) -> Finding | None:
    """What became of the submission: failed, orphaned, pending, skipped, mismatched,
    committed."""
    c = s.cycle
    if not c.weights_produced:
        return None
    error = f": {c.error}" if c.error else ""
    status = c.status
    if status is SubmissionStatus.FAILED:
        return Finding(
            Reason(
                "submission_failed",
                f"the submission of cycle {c.id} failed after {c.attempts} attempt(s)"
                f"{error}; the validator's previous weights stay in force until the next cycle",
            ),
            True,
        )
    if status is SubmissionStatus.ORPHANED:
        return Finding(
            Reason(
                "submission_orphaned",
                f"the block that included cycle {c.id} ({c.block_number}) was dropped by a "
                "reorg; the next cycle resubmits",
            ),
            True,
        )
    if status in (SubmissionStatus.COMPUTED, SubmissionStatus.SUBMITTING):
        return Finding(
            Reason(
                "not_submitted_yet",
                f"cycle {c.id} is {status.value}: its weights have not reached the chain yet",
            ),
            True,
        )
    if status is SubmissionStatus.SKIPPED:
        return Finding(
            Reason("submission_skipped", f"cycle {c.id} was skipped{error}; nothing was sent"),
            True,
        )
    if status is SubmissionStatus.MISMATCH:
        differing = c.verification.differing_uids if c.verification is not None else ()
        if s.uid in differing:
            return Finding(
                Reason(
                    "verification_mismatch",
                    "the chain's stored weight for this UID differs from the u16 value sent",
                ),
                False,
            )
    if status is SubmissionStatus.OBSERVED:
        v = c.verification
        if v is not None and v.match is False and s.uid in v.differing_uids:
            return Finding(
                Reason(
                    "observed_mismatch",
                    f"shadow mode: the weight the validator set on chain for this UID (block "
                    f"{c.block_number}) differs from what cycle {c.id} computed",
                ),
                False,
            )
        return None
    if status is SubmissionStatus.COMMITTED:
        return Finding(
            Reason(
                "committed",
                f"commit-reveal: the weights were committed and apply at epoch "
                f"{c.reveal_epoch} (block {c.reveal_block})",
            ),
            False,
        )
    return None


def rank_fallback(s: Subject) -> Finding | None:
    """The cycle used the rank fallback instead of the logistic curve."""
    if not s.cycle.rank_based_fallback:
        return None
    return Finding(
        Reason(
            "rank_fallback",
            "the transformed weights were nearly uniform, so this cycle used the "
            f"1/rank^{s.cycle.config.fallback_exponent:g} fallback instead of the logistic curve",
        ),
        False,
    )


RULES: tuple[Callable[[Subject], Finding | None], ...] = (
    registration,
    not_in_cycle,
    no_weights_produced,
    no_present_task,
    validator_zeroed,
    unregistered_in_cycle,
    coldkey_group,
    raw_zero,
    below_midpoint,
    submission,
    rank_fallback,
)
"""The rules, most fundamental first."""

GENERIC_RULES: tuple[Callable[[Subject], Finding | None], ...] = (
    registration,
    not_in_cycle,
    no_weights_produced,
    submission,
)
"""The rules that hold whatever weight rules produced the cycle (the others read Gaia's
stages)."""


def is_zero(s: Subject) -> bool:
    """True unless a positive u16 weight reached the chain."""
    return not (s.u16 is not None and s.u16 > 0 and s.cycle.status in ON_CHAIN_STATUSES)


def judge(s: Subject) -> Verdict:
    """Run every rule: the reasons for a zero weight, or the notes on a non-zero one."""
    rules = RULES if s.cycle.rules == DEFAULT_RULES else GENERIC_RULES
    findings = [f for f in (rule(s) for rule in rules) if f is not None]
    fatal = tuple(f.reason for f in findings if f.fatal)
    notes = tuple(f.reason for f in findings if not f.fatal)
    if not is_zero(s):
        return Verdict(False, (), notes + fatal)
    if not fatal:
        fatal = (
            Reason("zero", "its weight in the latest cycle is 0 (no more specific cause found)"),
        )
    return Verdict(True, fatal, notes)


def judge_without_cycle(uid: int, registered: bool) -> Verdict:
    """No cycle recorded: nothing was set."""
    reasons = [Reason("no_cycle", "no weight cycle has been recorded yet, so no weight was set")]
    if not registered:
        reasons.insert(0, not_registered(uid))
    return Verdict(True, tuple(reasons), ())
