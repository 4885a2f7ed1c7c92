"""Single Yuma steps and the chain's u16 storage rules, on hand-checked inputs."""

from __future__ import annotations

import numpy as np

from minertrace.chain import yuma
from minertrace.chain.local import storage


def test_consensus_threshold_uses_the_chains_kappa() -> None:
    # Two rows with half the stake each: the higher score holds exactly 0.5 >= 32767/65535.
    w = np.array([[0.8, 0.0], [0.2, 1.0]])
    a = np.array([0.5, 0.5])
    np.testing.assert_array_equal(yuma.consensus(w, a), [0.8, 1.0])
    # With a threshold just above one half, the median falls to the lower score.
    np.testing.assert_array_equal(yuma.consensus(w, a, kappa=0.5000001), [0.2, 0.0])


def test_consensus_ignores_rows_without_active_stake() -> None:
    w = np.array([[1.0], [0.0], [0.3]])
    a = np.array([0.0, 0.4, 0.6])
    np.testing.assert_array_equal(yuma.consensus(w, a), [0.3])
    np.testing.assert_array_equal(yuma.consensus(w, np.zeros(3)), [0.0])


def test_permits_top_k_ties_lose_on_lower_uid_and_owner_always() -> None:
    s = np.array([0.0, 0.3, 0.3, 0.4, 0.0])
    np.testing.assert_array_equal(yuma.new_permits(s, 2), [False, False, True, True, False])
    np.testing.assert_array_equal(
        yuma.new_permits(s, 2, owner_uid=0), [True, False, True, True, False]
    )
    # Zero stake never earns a permit, even with room to spare.
    np.testing.assert_array_equal(yuma.new_permits(s, 10), [False, True, True, True, False])


def test_stake_threshold_spares_the_owner() -> None:
    s = yuma.normalize_stake(np.array([100.0, 400.0, 120.0]), 150.0, owner_uid=0)
    np.testing.assert_allclose(s, [0.2, 0.8, 0.0])


def test_masking_self_and_outdated_weights() -> None:
    w = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    rows = np.array([0, 1, 2])
    permit = np.array([True, True, False])
    live = yuma.Liveness(
        current_block=100,
        last_update=np.array([50, 10, 0]),
        block_at_registration=np.array([0, 0, 20]),
        activity_cutoff=1000,
    )
    masked, pairs = yuma.mask_weights(w, rows, permit, owner_uid=1, liveness=live)
    # Row 0: self-weight gone, 1:2 kept. Row 1 is the owner: self kept, UID 2 (registered
    # at 20, after row 1's update at 10) masked.
    np.testing.assert_allclose(masked, [[0.0, 1 / 3, 2 / 3], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    assert pairs.tolist() == [[1, 2]]


def test_emission_falls_back_to_active_stake() -> None:
    zero = np.zeros(3)
    server, validator = yuma.emission_shares(zero, zero, np.array([0.0, 1.0, 0.0]), zero)
    np.testing.assert_array_equal(server, zero)
    np.testing.assert_array_equal(validator, [0.0, 1.0, 0.0])


def test_u16_storage_rules() -> None:
    np.testing.assert_array_equal(
        storage.max_upscale_u16(np.array([1, 2, 4])), [16384, 32768, 65535]
    )
    np.testing.assert_array_equal(storage.max_upscale_u16(np.array([0, 0])), [0, 0])
    # The chain re-upscales stored u16 values with halves rounded up, in exact integers.
    np.testing.assert_array_equal(storage.max_upscale_u16(np.array([2, 1])), [65535, 32768])
    # An even split is 0.5 of the total: over 32767/65535, within 32768/65535.
    assert not storage.max_weight_ok(np.array([65535, 65535]), 32767)
    assert storage.max_weight_ok(np.array([65535, 65535]), 32768)
    assert not storage.max_weight_ok(np.array([65535, 20000]), 45000)
    assert storage.max_weight_ok(np.array([65535, 0]), 65535)
    np.testing.assert_array_equal(
        storage.as_stored_fraction(np.array([1.0, 0.5])), [1.0, 32767 / 65535]
    )
