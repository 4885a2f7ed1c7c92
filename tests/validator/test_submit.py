"""Submission helpers: the rate-limit arithmetic and the read-back comparison."""

from __future__ import annotations

from minertrace.chain.types import SubnetHyperparameters
from minertrace.validator.submit import compare_weights, rate_limit_wait_blocks

HP = SubnetHyperparameters(weights_rate_limit=100)


def test_rate_limit_wait() -> None:
    # The extrinsic lands in the next block: last_update 50 + 100 = block 150 is the first allowed.
    assert rate_limit_wait_blocks(50, 120, HP) == 29
    assert rate_limit_wait_blocks(50, 149, HP) == 0
    assert rate_limit_wait_blocks(50, 400, HP) == 0
    # Never set: no limit.
    assert rate_limit_wait_blocks(0, 3, HP) == 0


def test_compare_weights() -> None:
    same = compare_weights({1: 65535, 2: 100}, {1: 65535, 2: 100})
    assert same.match and same.differing_uids == []
    diff = compare_weights({1: 65535, 2: 100, 3: 5}, {1: 65535, 2: 101, 4: 7})
    assert not diff.match and diff.differing_uids == [2, 3, 4]
    assert diff.expected_count == 3 and diff.chain_count == 3
    # A zero entry counts as absent.
    assert compare_weights({1: 10, 2: 0}, {1: 10}).match
