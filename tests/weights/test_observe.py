"""Shadow mode's comparison of on-chain u16 rows with traces."""

from __future__ import annotations

import pytest

from minertrace.weights.observe import compare_u16, trace_at


def test_equal_rows_match() -> None:
    c = compare_u16({1: 65535, 3: 100, 4: 0}, {3: 100, 1: 65535})
    assert c.match
    assert c.differing_uids == []
    assert c.max_abs_u16_diff == 0
    assert c.l1_share_diff == 0.0


def test_differences_by_uid_and_share() -> None:
    c = compare_u16({1: 65535, 2: 65535}, {1: 65535, 2: 32768, 5: 10})
    assert not c.match
    assert c.differing_uids == [2, 5]
    assert c.expected == [65535, 0]
    assert c.observed == [32768, 10]
    total = 65535 + 32768 + 10
    assert c.share_diff == pytest.approx([32768 / total - 0.5, 10 / total])
    assert c.max_abs_u16_diff == 65535 - 32768
    expected_l1 = abs(65535 / total - 0.5) + abs(32768 / total - 0.5) + 10 / total
    assert c.l1_share_diff == pytest.approx(expected_l1)
    d = c.to_dict(limit=1)
    assert d["differing_count"] == 2 and d["differing_uids"] == [2]


def test_disjoint_rows() -> None:
    c = compare_u16({0: 5}, {1: 5})
    assert c.l1_share_diff == pytest.approx(2.0)
    assert compare_u16({}, {}).match


def test_trace_at() -> None:
    blocks = [100, 200, 300]
    assert trace_at(blocks, 99) is None
    assert trace_at(blocks, 100) == 0
    assert trace_at(blocks, 250) == 1
    assert trace_at(blocks, 1000) == 2
    assert trace_at([], 5) is None
