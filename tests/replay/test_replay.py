"""What-if replay on cycles recorded by the real service code."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text

from minertrace.validator.replay import (
    CycleNotFoundError,
    MissingInputsError,
    replay_cycle,
)
from minertrace.validator.replay_overrides import OverrideError
from tests.helpers.web import Recorded, record_subnet


@pytest.fixture
async def recorded(engine: Engine) -> Recorded:
    return await record_subnet(engine, cycles=3)


async def test_replay_reproduces_every_stored_vector(engine: Engine, recorded: Recorded) -> None:
    for cycle_id in recorded.cycle_ids:
        report = replay_cycle(engine, cycle_id)
        v = report.verification
        assert v.identical, v.differences
        assert "raw_weight" in v.checked and "u16" in v.checked
        assert "submitted_u16" in v.checked
        assert report.diff is None
        json.dumps(report.to_dict(), allow_nan=False)


async def test_a_tampered_vector_is_shown(engine: Engine, recorded: Recorded) -> None:
    cycle_id = recorded.cycle_ids[-1]
    uid = recorded.miners[3]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE weight_submissions SET stages = jsonb_set(stages, "
                "ARRAY['raw_weight', CAST(:uid AS text)], '0.123') WHERE id = :id"
            ),
            {"uid": uid, "id": cycle_id},
        )
    v = replay_cycle(engine, cycle_id).verification
    assert not v.identical
    (diff,) = v.differences
    assert diff.name == "raw_weight" and diff.uids == [uid] and diff.stored == [0.123]


async def test_overrides_show_the_change_per_uid(engine: Engine, recorded: Recorded) -> None:
    cycle_id = recorded.cycle_ids[-1]
    report = replay_cycle(engine, cycle_id, {"coldkey_smoothing": False})
    assert report.verification.identical
    diff = report.diff
    assert diff is not None
    gained = {c.uid for c in diff.changes if c.delta > 0}
    # Without smoothing the 6-hotkey farm keeps its full weight.
    assert set(recorded.farm) <= gained
    assert diff.gainers == len(gained) and diff.losers > 0
    assert diff.largest_gains[0].delta == max(c.delta for c in diff.changes)
    assert diff.largest_losses[0].delta == min(c.delta for c in diff.changes)
    out = report.to_dict()
    assert out["overrides"] == {"coldkey_smoothing": False}
    assert out["diff"]["summary"]["gainers"] == diff.gainers
    json.dumps(out, allow_nan=False)


async def test_an_override_that_changes_nothing(engine: Engine, recorded: Recorded) -> None:
    report = replay_cycle(engine, recorded.cycle_ids[-1], {"soil_row_limit": 5})
    assert report.diff is not None and report.diff.changes == []
    assert any("soil_row_limit" in n for n in report.notes)


async def test_refusals(engine: Engine, recorded: Recorded) -> None:
    cycle_id = recorded.cycle_ids[0]
    with pytest.raises(CycleNotFoundError, match="cycle 999999 does not exist"):
        replay_cycle(engine, 999_999)
    with pytest.raises(OverrideError, match="coldkey_upper"):
        replay_cycle(engine, cycle_id, {"coldkey_upper": 1})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM score_table WHERE task_id = 'geo_0'"))
    with pytest.raises(MissingInputsError, match="geomagnetic/geo_0") as info:
        replay_cycle(engine, cycle_id)
    assert info.value.missing_rows == [{"task_name": "geomagnetic", "task_id": "geo_0"}]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE weight_submissions SET inputs = NULL WHERE id = :id"), {"id": cycle_id}
        )
    with pytest.raises(MissingInputsError, match="revision 0003"):
        replay_cycle(engine, cycle_id)
