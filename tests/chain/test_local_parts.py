"""The parts `LocalChain` is composed of: neuron table, weight checks, block log, snapshot."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from minertrace.chain.local import snapshot
from minertrace.chain.local.blocks import BlockLog, next_stop
from minertrace.chain.local.chain import LocalChain
from minertrace.chain.local.checks import check_malformed, check_weights
from minertrace.chain.local.neurons import NeuronTable
from minertrace.chain.types import ChainError, SubnetHyperparameters


def _table() -> NeuronTable:
    t = NeuronTable(8)
    t.append(["a", "b", "c", "d"], ["x", "y", "x", "x"], np.zeros(4), block=0)
    return t


def test_coldkey_siblings_follow_replacement_and_restore() -> None:
    t = _table()
    assert t.coldkey_siblings(0).tolist() == [2, 3]
    assert t.coldkey_siblings(1).tolist() == []
    t.replace(2, "e", "y", stake=0.0, block=5)
    assert t.coldkey_siblings(0).tolist() == [3]
    assert t.coldkey_siblings(1).tolist() == [2]
    r = NeuronTable(8)
    r.restore_keys(t.hotkeys, t.coldkeys)
    assert r.coldkey_siblings(0).tolist() == [3]
    assert r.uid_of == {"a": 0, "b": 1, "e": 2, "d": 3}


def test_replace_clears_the_column_and_row() -> None:
    t = _table()
    t.store_row(0, np.array([1, 2]), np.array([10, 20]))
    t.store_row(2, np.array([0, 1]), np.array([5, 5]))
    t.replace(2, "e", "z", stake=1.0, block=9)
    assert t.weight_row(0) == {1: 32768}
    assert t.weight_row(2) == {}
    assert int(t.registered_at[2]) == 9 and t.uid_of.get("c") is None


def _check(**kw: object) -> ChainError | None:
    hp = SubnetHyperparameters(
        weights_version_key=3, weights_rate_limit=10, min_allowed_weights=2, max_weight_limit=0.6
    )
    args: dict[str, object] = {
        "uid": 0,
        "n": 4,
        "has_permit": True,
        "last_update": 0,
        "uids": np.array([1, 2]),
        "values": np.array([1, 1]),
        "version_key": 3,
        "block": 100,
        "rate_limit": True,
        "contents": True,
        **kw,
    }
    bad = check_weights(hp, **args)  # type: ignore[arg-type]
    return None if bad is None else bad[0]


def test_checks_report_the_first_failure_in_chain_order() -> None:
    assert _check() is None
    # Everything wrong at once: the permit is checked first, then the version key, etc.
    everything = {"has_permit": False, "version_key": 1, "last_update": 95, "uids": np.array([9])}
    assert _check(**everything) is ChainError.NO_VALIDATOR_PERMIT
    assert _check(**{**everything, "has_permit": True}) is ChainError.INCORRECT_VERSION_KEY
    assert _check(last_update=95, uids=np.array([9])) is ChainError.RATE_LIMIT
    assert _check(uids=np.array([1, 9])) is ChainError.INVALID_UID
    assert _check(uids=np.array([1, 1])) is ChainError.DUPLICATE_UIDS
    assert _check(uids=np.array([1]), values=np.array([1])) is ChainError.TOO_FEW_WEIGHTS
    assert _check(values=np.array([3, 1])) is ChainError.MAX_WEIGHT_EXCEEDED
    # A commit is checked up to the rate limit only; a reveal skips the rate limit.
    assert _check(contents=False, uids=np.array([9]), version_key=0) is None
    assert _check(rate_limit=False, last_update=95) is None
    # Weights only on oneself are exempt from the minimum count.
    assert _check(uids=np.array([0]), values=np.array([1])) is None
    assert check_malformed([1, 2], [1]) == (
        ChainError.WEIGHT_VEC_LENGTH_MISMATCH,
        "uids and weights differ in length",
    )
    assert check_malformed([1], [70000]) is not None


def test_block_log_reorg_undoes_newest_first_and_rehashes_only_the_tail() -> None:
    log = BlockLog(seed=1, netuid=2, max_reorg_depth=3, height=10)
    before = [log.hash(h) for h in range(11)]
    undone: list[str] = []
    for b, tag in [(8, "8a"), (9, "9a"), (9, "9b"), (10, "10a")]:
        log.record(b, lambda tag=tag: undone.append(tag))  # type: ignore[misc]
    assert list(log.replace_tail(2)) == [9, 10]
    assert undone == ["10a", "9b", "9a"]
    after = [log.hash(h) for h in range(11)]
    assert after[:9] == before[:9] and after[9] != before[9] and after[10] != before[10]
    with pytest.raises(ValueError):
        log.replace_tail(4)
    log.height = 12
    log.prune()
    log.replace_tail(3)
    assert undone == ["10a", "9b", "9a"]


def test_next_stop_skips_quiet_blocks_but_always_moves() -> None:
    assert next_stop(10, 100, 40, [25, 30]) == 25
    assert next_stop(10, 100, 40, []) == 40
    assert next_stop(10, 12, 40, [25]) == 12
    assert next_stop(10, 100, 5, []) == 11


def test_hand_written_v1_snapshot_loads() -> None:
    doc: dict[str, Any] = {
        "format": "minertrace-localchain/1",
        "config": {
            "netuid": 3,
            "max_uids": 4,
            "seed": 5,
            "genesis_time": "2025-01-01T00:00:00+00:00",
            "emission_per_block": 1.0,
            "immunity_period": 10,
            "max_reorg_depth": 8,
            "hyperparameters": {"tempo": 7},
            "yuma": {},
        },
        "height": 20,
        "last_epoch_block": 14,
        "epoch_count": 2,
        "owner_uid": 0,
        "forks": {"19": 1},
        "neurons": {
            "hotkey": ["owner", "m"],
            "coldkey": ["oc", "mc"],
            "axon_ip": ["0.0.0.0", "1.2.3.4"],
            "axon_port": [0, 8091],
            "stake": [1.0, 0.0],
            "validator_permit": [True, False],
            "active": [True, True],
            "last_update": [13, 0],
            "block_at_registration": [0, 2],
            "quality": [0.0, 0.5],
            "consensus": [0.0, 1.0],
            "incentive": [0.0, 1.0],
            "dividends": [1.0, 0.0],
            "validator_trust": [1.0, 0.0],
            "emission": [3.5, 3.5],
        },
        "weights": [[0, 1, 65535]],
        "bonds": [[0, 1, 0.25]],
        "commits": [],
        "next_commit_id": 0,
        "peers": [],
        "faults": [{"kind": "reject", "error": "SettingWeightsTooFast", "lands": False}],
        "last_consensus": [0.0, 1.0],
    }
    with pytest.raises(ValueError):
        snapshot.load(json.dumps({**doc, "format": "minertrace-localchain/0"}))
    chain = LocalChain.from_json(json.dumps(doc))
    assert (chain.netuid, chain.height, chain.epoch_index, chain.n) == (3, 20, 2, 2)
    assert chain.uid_of("m") == 1 and chain.owner_uid == 0
    assert chain.weights_matrix().tolist() == [[0, 65535], [0, 0]]
    assert chain.bonds_matrix()[0, 1] == 0.25
    saved = json.loads(chain.to_json())
    # Hyperparameters and Yuma parameters left out of the file come back as defaults.
    assert saved["config"].pop("hyperparameters")["tempo"] == 7
    assert saved["config"].pop("yuma")["max_allowed_validators"] > 0
    expected = {
        **doc,
        "config": {
            k: v for k, v in doc["config"].items() if k != "hyperparameters" and k != "yuma"
        },
    }
    assert saved == expected
