"""The reasons as pure functions: each rule's trigger and non-trigger, numbers from the config."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from minertrace.explain import ChainInfo, CycleInfo, Stage, StageValue, Verification
from minertrace.explain import reasons as r
from minertrace.explain.facts import Facts, chain_info, from_stats, parse_config
from minertrace.explain.model import assemble
from minertrace.explain.stages import stages
from minertrace.explain.wording import ordinal, span
from minertrace.store.explain import StatsRow
from minertrace.vocabulary import ON_CHAIN_STATUSES, SubmissionStatus, Task
from minertrace.weights import WeightConfig

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
CUSTOM = WeightConfig(
    coldkey_lower=2,
    coldkey_upper=5,
    curve_midpoint_percentile=70.0,
    fallback_exponent=1.5,
    weather_window_days=7.0,
    geomagnetic_window_days=0.5,
    soil_window_days=3.0,
)


def cycle(**changes: Any) -> CycleInfo:
    base = CycleInfo(
        id=7,
        validator_hotkey="vali",
        netuid=1,
        computed_at=AT,
        computed_block=100,
        n_uids=16,
        status=SubmissionStatus.VERIFIED,
        error=None,
        attempts=1,
        block_number=101,
        block_hash="0xabc",
        reveal_epoch=None,
        reveal_block=None,
        verified_at=AT,
        verification=Verification(match=True),
        consensus_block=None,
        weights_produced=True,
        no_weights_reason=None,
        rank_based_fallback=False,
        curve_midpoint=0.5,
        max_weight=0.1,
        zeroed_validators=(),
        dropped_unregistered=(),
        p85=dict.fromkeys(Task),
        valid_count=dict.fromkeys(Task),
        config=WeightConfig(),
    )
    return replace(base, **changes)


GOOD: dict[str, StageValue] = {
    "present_weather": True,
    "raw_weight": 0.8,
    "coldkey_group_size": 1,
    "coldkey_multiplier": 1.0,
    "after_coldkey": 0.8,
    "normalized": 0.9,
    "transformed": 0.95,
    "pathway": 1,
    "submitted": 0.2,
    "u16": 65535,
}


def subject(values: Mapping[str, StageValue] | None = None, **changes: Any) -> r.Subject:
    vals = {**GOOD, **(values or {})}
    base = r.Subject(
        uid=3,
        registered=True,
        validator_permit=False,
        coldkey="ck",
        cycle=cycle(),
        values=vals,
        weight=0.2,
        u16=65535,
    )
    return replace(base, **changes)


def codes(reasons: tuple[Any, ...]) -> list[str]:
    return [x.code for x in reasons]


def test_a_good_miner_has_no_reason() -> None:
    s = subject()
    assert all(rule(s) is None for rule in r.RULES)
    verdict = r.judge(s)
    assert verdict == r.Verdict(False, (), ())


def test_registration() -> None:
    assert r.registration(subject()) is None
    f = r.registration(subject(registered=False))
    assert f is not None and f.fatal and f.reason.code == "not_registered"
    f = r.registration(subject(validator_permit=True))
    assert f is not None and f.fatal and f.reason.code == "validator"


def test_not_in_cycle() -> None:
    assert r.not_in_cycle(subject(uid=15)) is None
    f = r.not_in_cycle(subject(uid=16))
    assert f is not None and f.fatal and "the subnet had 16 UIDs" in f.reason.message


def test_no_weights_produced() -> None:
    assert r.no_weights_produced(subject()) is None
    c = cycle(weights_produced=False, no_weights_reason="zero_sum")
    f = r.no_weights_produced(subject(cycle=c))
    assert f is not None and "the transformed weights summed to 0" in f.reason.message
    f = r.no_weights_produced(subject(cycle=replace(c, no_weights_reason="new_reason")))
    assert f is not None and "cycle 7: new_reason;" in f.reason.message


def test_no_present_task_names_the_configured_windows() -> None:
    assert r.no_present_task(subject()) is None
    none = {"present_weather": False}
    # Without stored stage vectors absence proves nothing.
    assert r.no_present_task(subject(none, details_stored=False)) is None
    f = r.no_present_task(subject(none))
    assert f is not None and f.fatal
    assert "last 15 days" in f.reason.message and "last 24 h" in f.reason.message
    assert "score_table holds no entry" in f.reason.message
    f = r.no_present_task(subject(none, cycle=cycle(config=CUSTOM), last_score_entry=AT))
    assert f is not None
    assert "weather row of the last 7 days" in f.reason.message
    assert "geomagnetic rows of the last 12 h" in f.reason.message
    assert "soil moisture rows of the last 3 days" in f.reason.message
    assert "15 days" not in f.reason.message and AT.isoformat() in f.reason.message


def test_validator_zeroed_and_dropped() -> None:
    assert r.validator_zeroed(subject()) is None and r.unregistered_in_cycle(subject()) is None
    f = r.validator_zeroed(subject(cycle=cycle(zeroed_validators=(3,))))
    assert f is not None and f.fatal and f.reason.code == "validator_zeroed"
    f = r.unregistered_in_cycle(subject(cycle=cycle(dropped_unregistered=(3,))))
    assert f is not None and f.fatal and f.reason.code == "unregistered_in_cycle"


def test_coldkey_group_follows_the_config() -> None:
    assert r.coldkey_group(subject()) is None
    f = r.coldkey_group(subject({"coldkey_group_size": 10, "coldkey_multiplier": 0.0}))
    assert f is not None and f.fatal and "owns 10 registered hotkeys (>= 10)" in f.reason.message
    f = r.coldkey_group(subject({"coldkey_group_size": 4, "coldkey_multiplier": 0.5}))
    assert f is not None and not f.fatal and "(3-9)" in f.reason.message
    custom = cycle(config=CUSTOM)
    f = r.coldkey_group(subject({"coldkey_group_size": 5, "coldkey_multiplier": 0.0}, cycle=custom))
    assert f is not None and f.fatal and "(>= 5)" in f.reason.message
    f = r.coldkey_group(subject({"coldkey_group_size": 4, "coldkey_multiplier": 0.2}, cycle=custom))
    assert f is not None and not f.fatal and "(2-4)" in f.reason.message


def test_raw_zero() -> None:
    assert r.raw_zero(subject()) is None
    assert r.raw_zero(subject({"raw_weight": 0.0, "present_weather": False})) is None
    f = r.raw_zero(subject({"raw_weight": 0.0}))
    assert f is not None and f.fatal


def test_below_midpoint_follows_the_config() -> None:
    assert r.below_midpoint(subject()) is None
    low = {"normalized": 0.1, "transformed": 1e-7}
    f = r.below_midpoint(subject(low, u16=0))
    assert f is not None and f.fatal and "rounds to 0" in f.reason.message
    assert "the 80th percentile" in f.reason.message
    f = r.below_midpoint(subject(low, u16=3, cycle=cycle(config=CUSTOM)))
    assert f is not None and not f.fatal and "the 70th percentile" in f.reason.message
    assert r.below_midpoint(subject({**low, "after_coldkey": 0.0}, u16=0)) is None


def test_submission_outcomes() -> None:
    assert r.submission(subject()) is None
    expected = {
        SubmissionStatus.FAILED: ("submission_failed", True),
        SubmissionStatus.ORPHANED: ("submission_orphaned", True),
        SubmissionStatus.COMPUTED: ("not_submitted_yet", True),
        SubmissionStatus.SUBMITTING: ("not_submitted_yet", True),
        SubmissionStatus.SKIPPED: ("submission_skipped", True),
        SubmissionStatus.COMMITTED: ("committed", False),
    }
    for status, (code, fatal) in expected.items():
        f = r.submission(subject(cycle=cycle(status=status, attempts=4, error="boom")))
        assert f is not None and (f.reason.code, f.fatal) == (code, fatal), status
    f = r.submission(subject(cycle=cycle(status=SubmissionStatus.FAILED, attempts=4, error="x")))
    assert f is not None and "after 4 attempt(s): x;" in f.reason.message
    mismatch = cycle(status=SubmissionStatus.MISMATCH, verification=Verification(False, (3,)))
    f = r.submission(subject(cycle=mismatch))
    assert f is not None and f.reason.code == "verification_mismatch" and not f.fatal
    other = replace(mismatch, verification=Verification(False, (4,)))
    assert r.submission(subject(cycle=other)) is None
    failed_without_weights = cycle(status=SubmissionStatus.FAILED, weights_produced=False)
    assert r.submission(subject(cycle=failed_without_weights)) is None


def test_rank_fallback_exponent_from_the_config() -> None:
    assert r.rank_fallback(subject()) is None
    f = r.rank_fallback(subject(cycle=cycle(rank_based_fallback=True)))
    assert f is not None and not f.fatal and "1/rank^1.2 " in f.reason.message
    f = r.rank_fallback(subject(cycle=cycle(rank_based_fallback=True, config=CUSTOM)))
    assert f is not None and "1/rank^1.5 " in f.reason.message


def test_judge_orders_reasons_and_notes() -> None:
    # Zero on chain: fatal findings are the reasons, most fundamental first.
    s = subject(
        {"coldkey_group_size": 12, "coldkey_multiplier": 0.0},
        registered=False,
        u16=0,
        cycle=cycle(rank_based_fallback=True),
    )
    verdict = r.judge(s)
    assert verdict.zero
    assert codes(verdict.reasons) == ["not_registered", "coldkey_group"]
    assert codes(verdict.notes) == ["rank_fallback"]
    # A weight on chain: every finding is a note, the notes first.
    s = subject({"coldkey_group_size": 4, "coldkey_multiplier": 0.5}, validator_permit=True)
    verdict = r.judge(s)
    assert not verdict.zero and verdict.reasons == ()
    assert codes(verdict.notes) == ["coldkey_group", "validator"]


def test_judge_zero_without_cause_and_off_chain_statuses() -> None:
    verdict = r.judge(subject(u16=0))
    assert verdict.zero and codes(verdict.reasons) == ["zero"]
    for status in SubmissionStatus:
        s = subject(cycle=cycle(status=status))
        assert r.is_zero(s) is (status not in ON_CHAIN_STATUSES), status
    assert r.is_zero(subject(u16=None))
    verdict = r.judge_without_cycle(5, registered=False)
    assert codes(verdict.reasons) == ["not_registered", "no_cycle"]
    assert codes(r.judge_without_cycle(5, registered=True).reasons) == ["no_cycle"]


def test_wording_numbers() -> None:
    assert [span(d) for d in (15.0, 1.0, 0.5, 1.5, 2.0)] == [
        "15 days",
        "24 h",
        "12 h",
        "36 h",
        "2 days",
    ]
    assert [ordinal(p) for p in (1, 2, 3, 4, 11, 12, 13, 21, 80, 82.5, 101)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "80th",
        "82.5th",
        "101st",
    ]


def test_parse_config() -> None:
    assert parse_config(None) == WeightConfig()
    assert parse_config(CUSTOM.to_dict()) == CUSTOM
    # A row written by another version (an unknown key) falls back to the defaults.
    assert parse_config({"no_such_field": 1}) == WeightConfig()


def test_assemble_and_strict_json() -> None:
    s = subject({"normalized": math.nan, "transformed": math.inf})
    facts = Facts(uid=3, node=None, chain=ChainInfo(incentive=0.25, consensus_rank=2), subject=s)
    exp = assemble(facts)
    assert not exp.zero and exp.stage("pathway") == "excellence"
    assert exp.summary == (
        "UID 3 in cycle 7 (verified): weight 0.200000 (u16 65535) via the excellence pathway; "
        "the chain gave it incentive 0.250000 (consensus rank 2)."
    )
    doc = json.loads(json.dumps(exp.to_dict(), allow_nan=False))
    assert doc["stages"]["normalized"] is None and doc["stages"]["transformed"] is None
    assert doc["cycle"]["status"] == "verified" and doc["cycle"]["computed_at"] == AT.isoformat()
    assert doc["cycle"]["config"] == WeightConfig().to_dict()
    assert doc["cycle"]["verification"] == {"match": True, "differing_uids": []}
    assert doc["chain"]["incentive"] == 0.25 and doc["reasons"] == []
    zero = assemble(replace(facts, subject=replace(s, u16=0)))
    assert zero.zero and zero.summary.startswith("UID 3 in cycle 7 (verified): weight 0 because")
    none = assemble(Facts(uid=9, node=None, chain=ChainInfo(), subject=None))
    assert none.cycle is None and none.summary == "UID 9: no weight cycle recorded yet."
    assert codes(none.reasons) == ["not_registered", "no_cycle"]


@pytest.mark.parametrize("task", list(Task))
def test_present_tasks(task: Task) -> None:
    values: dict[str, StageValue] = {f"present_{t.value}": t is task for t in Task}
    assert r.present_tasks(values) == (task,)


def test_stage_values_from_a_stats_row() -> None:
    stats = StatsRow(
        miner_hotkey="hk",
        period_type="daily",
        period_start=AT,
        submitted_weight=0.1,
        raw_calculated_weight=0.4,
        excellence_weight=0.0,
        diversity_weight=0.4,
        scoring_pathway="diversity",
        pathway_details={"num_active_tasks": 2, "weather_score": 0.7, "soil_score": 0.2},
        multi_task_bonus=1.0,
        percentile_rank_weather=60.0,
        percentile_rank_geomagnetic=None,
        percentile_rank_soil=30.0,
        excellence_qualified_tasks=["soil"],
        weather_weight_contribution=0.3,
        geomagnetic_weight_contribution=None,
        soil_weight_contribution=0.1,
        incentive=0.01,
        consensus_rank=4,
        consensus_block=200,
        weight_submission_block=150,
        last_active_time=None,
    )
    values = from_stats(stats)
    assert values["pathway"] == 2 and values["raw_weight"] == 0.4
    assert values["present_weather"] is True and values["present_geomagnetic"] is False
    assert values["qualified_soil"] is True and values["qualified_weather"] is False
    assert "rank_geomagnetic" not in values
    assert stages(values)[0] == Stage("score_weather", "weather score (aggregated)", 0.7)
    assert from_stats(replace(stats, scoring_pathway=None)).get("pathway") is None
    chain = chain_info(None, stats)
    assert chain.consensus_delay_blocks == 50 and chain.period == f"daily from {AT.isoformat()}"
    assert chain_info(None, replace(stats, consensus_block=100)).consensus_delay_blocks is None
