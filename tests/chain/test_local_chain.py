"""LocalChain: the chain's checks, storage, commit-reveal, reorgs, replacement, determinism."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from minertrace.chain.local.chain import LocalChain
from minertrace.chain.types import (
    Chain,
    ChainError,
    SubmissionStatus,
    SubnetHyperparameters,
)
from minertrace.clock import Clock

NET = 1
TEMPO = 10


def make_chain(
    *, seed: int = 0, miners: int = 6, **hp: object
) -> tuple[LocalChain, list[int], list[int]]:
    """Owner on UID 0, validators v0 (6000) and v1 (4000), then `miners` miners; permits set."""
    params = {"tempo": TEMPO, "weights_rate_limit": 3, "activity_cutoff": 5000, **hp}
    chain = LocalChain(
        netuid=NET,
        max_uids=32,
        seed=seed,
        hyperparameters=SubnetHyperparameters(**params),  # type: ignore[arg-type]
    )
    validators = [chain.register("v0", "cv0", 6000.0), chain.register("v1", "cv1", 4000.0)]
    ms = chain.register_many([f"m{i}" for i in range(miners)], [f"cm{i}" for i in range(miners)])
    chain.refresh_permits()
    return chain, validators, ms


async def test_satisfies_protocols() -> None:
    chain, _, _ = make_chain()
    assert isinstance(chain, Chain)
    assert isinstance(chain.clock, Clock)


async def test_registration_owner_and_permits() -> None:
    chain, (v0, v1), _ = make_chain()
    assert chain.owner_uid == 0
    neurons = await chain.neurons(NET)
    assert [x.uid for x in neurons] == list(range(chain.n))
    assert [x.hotkey for x in neurons[:3]] == ["owner", "v0", "v1"]
    permits = {x.uid for x in neurons if x.validator_permit}
    assert permits == {0, v0, v1}
    with pytest.raises(ValueError):
        chain.register("v0", "again")
    with pytest.raises(ValueError):
        chain.replace_hotkey(0, "usurper", "c")


async def test_full_subnet_prunes_lowest_emission_non_immune() -> None:
    hp = SubnetHyperparameters(tempo=10, weights_rate_limit=1, activity_cutoff=5000)
    chain = LocalChain(netuid=NET, max_uids=5, immunity_period=5, hyperparameters=hp)
    chain.register("v", "cv", 1000.0)
    a, b, c = chain.register_many(["a", "b", "c"], ["ca", "cb", "cc"])
    chain.refresh_permits()
    assert chain.n == 5
    # The validator rates a above c and ignores b, so after an epoch b earns nothing.
    receipt = await chain.set_weights("v", NET, [a, c], [65535, 30000], 0)
    assert receipt.ok
    chain.advance(await chain.next_epoch_block(NET) - chain.height)
    emission = {n.uid: n.emission for n in await chain.neurons(NET)}
    assert emission[b] == 0.0 < emission[c] < emission[a]

    d = chain.register("d", "cd")
    assert d == b
    assert chain.uid_of("d") == b and chain.uid_of("b") is None
    assert (await chain.neurons(NET))[d].block_at_registration == chain.height
    assert chain.n == 5
    # d is immune and earns nothing yet; the next registration takes the lowest emission
    # among the others: c (a and the validator earn more, the owner is never pruned).
    e = chain.register("e", "ce")
    assert e == c
    assert chain.uid_of("d") == d


async def test_each_rejection_has_its_error_in_chain_order() -> None:
    chain, (v0, _), ms = make_chain(
        weights_version_key=5, min_allowed_weights=2, max_weight_limit=0.6
    )
    ok = [ms[0], ms[1]]

    async def send(hotkey: str, uids: list[int], w: list[int], vk: int = 5) -> ChainError | None:
        receipt = await chain.set_weights(hotkey, NET, uids, w, vk)
        return receipt.error

    assert await send("nobody", ok, [1, 1]) is ChainError.HOTKEY_NOT_REGISTERED
    # No permit beats a bad version key (permit is checked first).
    assert await send(f"m{0}", ok, [1, 1], vk=0) is ChainError.NO_VALIDATOR_PERMIT
    assert await send("v0", ok, [1, 1], vk=4) is ChainError.INCORRECT_VERSION_KEY
    assert await send("v0", [ms[0], 99], [1, 1]) is ChainError.INVALID_UID
    assert await send("v0", [ms[0], ms[0]], [1, 1]) is ChainError.DUPLICATE_UIDS
    assert await send("v0", [ms[0]], [1]) is ChainError.TOO_FEW_WEIGHTS
    assert await send("v0", ok, [9, 1]) is ChainError.MAX_WEIGHT_EXCEEDED
    assert await send("v0", ok, [1]) is ChainError.WEIGHT_VEC_LENGTH_MISMATCH
    assert (await chain.set_weights("v0", 99, ok, [1, 1], 5)).error is ChainError.SUBNET_NOT_EXISTS
    accepted = await chain.set_weights("v0", NET, ok, [3, 2], 5)
    assert accepted.status is SubmissionStatus.INCLUDED
    # Rate limit: the next block is within 3 blocks of the last update; a bad version key
    # is reported before it, as the chain checks the key first.
    assert await send("v0", ok, [1, 1]) is ChainError.RATE_LIMIT
    assert await send("v0", ok, [1, 1], vk=4) is ChainError.INCORRECT_VERSION_KEY
    chain.advance(3)
    assert (await chain.set_weights("v0", NET, ok, [1, 1], 5)).ok
    # A single self-weight is exempt from the length and max-weight checks.
    chain.advance(3)
    assert (await chain.set_weights("v0", NET, [v0], [7], 5)).ok


async def test_read_back_is_the_u16_vector_after_max_upscaling() -> None:
    chain, (v0, _), ms = make_chain()
    sent = [100, 200, 300, 7]
    uids = ms[:4]
    receipt = await chain.set_weights("v0", NET, uids, sent, 0)
    assert receipt.ok and receipt.weights_u16 == tuple(sent)
    expected = {u: int(np.floor(w * 65535 / 300 + 0.5)) for u, w in zip(uids, sent, strict=True)}
    assert await chain.weights_of(NET, v0) == expected
    # An already upscaled vector (what the client sends) reads back unchanged.
    chain.advance(3)
    client = [65535, 26214, 39321]
    assert (await chain.set_weights("v0", NET, ms[:3], client, 0)).ok
    assert await chain.weights_of(NET, v0) == dict(zip(ms[:3], client, strict=True))
    assert (await chain.neurons(NET))[v0].last_update == chain.height


async def test_epochs_run_every_tempo_blocks() -> None:
    chain, _, ms = make_chain()
    assert await chain.next_epoch_block(NET) == TEMPO
    assert (await chain.set_weights("v0", NET, ms[:2], [65535, 65535], 0)).ok
    assert (await chain.set_weights("v1", NET, ms[:2], [65535, 65535], 0)).ok
    ran = chain.advance(25)
    assert ran == [10, 20]
    assert chain.epoch_index == 2
    assert await chain.last_epoch_block(NET) == 20
    assert await chain.next_epoch_block(NET) == 30
    neurons = await chain.neurons(NET)
    assert neurons[ms[0]].incentive == pytest.approx(0.5, abs=1 / 65535)
    assert neurons[ms[2]].incentive == 0.0
    # Stored as the chain stores them: multiples of 1/65535.
    assert neurons[ms[0]].incentive * 65535 == pytest.approx(
        round(neurons[ms[0]].incentive * 65535)
    )
    assert sum(x.dividends for x in neurons) == pytest.approx(1.0, abs=1e-3)


async def test_commit_reveal_applies_only_from_the_reveal_epoch() -> None:
    chain, (v0, _), ms = make_chain(commit_reveal_enabled=True, reveal_period_epochs=2)
    receipt = await chain.set_weights("v0", NET, ms[:2], [65535, 32768], 0)
    assert receipt.status is SubmissionStatus.COMMITTED
    assert receipt.reveal_epoch == 2 and receipt.reveal_block == 2 * TEMPO
    assert (await chain.neurons(NET))[v0].last_update == receipt.block_number
    chain.advance(2 * TEMPO - 1 - chain.height)
    assert chain.epoch_index == 1
    assert await chain.weights_of(NET, v0) == {}
    assert not await chain.is_revealed(receipt)
    assert chain.last_epoch is not None and chain.last_epoch.incentive.sum() == 0.0
    chain.advance(1)
    assert chain.epoch_index == 2
    assert await chain.weights_of(NET, v0) == {ms[0]: 65535, ms[1]: 32768}
    assert await chain.is_revealed(receipt)
    # The epoch at the reveal block already used the revealed weights.
    assert chain.last_epoch is not None
    assert chain.last_epoch.incentive[ms[0]] > chain.last_epoch.incentive[ms[1]] > 0.0


async def test_commit_with_invalid_contents_fails_silently_at_reveal() -> None:
    chain, _, ms = make_chain(commit_reveal_enabled=True, reveal_period_epochs=1)
    receipt = await chain.set_weights("v1", NET, [ms[0], 31], [1, 1], 0)
    assert receipt.status is SubmissionStatus.COMMITTED
    chain.advance(TEMPO)
    assert not await chain.is_revealed(receipt)
    (commit,) = chain.commits
    assert commit.status == "failed" and ChainError.INVALID_UID.value in commit.reason


async def test_reorg_drops_the_submission_and_changes_the_hash() -> None:
    chain, (v0, _), ms = make_chain()
    chain.advance(4)
    receipt = await chain.set_weights("v0", NET, ms[:2], [65535, 1000], 0)
    assert receipt.block_number == 5
    assert await chain.block_hash(5) == receipt.block_hash
    hash4 = await chain.block_hash(4)
    chain.advance(2)
    chain.reorg(2)
    assert await chain.block_hash(5) == receipt.block_hash
    assert await chain.weights_of(NET, v0) == {ms[0]: 65535, ms[1]: 1000}
    chain.reorg(3)
    assert chain.height == 7
    assert await chain.block_hash(5) != receipt.block_hash
    assert await chain.block_hash(4) == hash4
    assert await chain.weights_of(NET, v0) == {}
    assert (await chain.neurons(NET))[v0].last_update == 0
    assert not await chain.is_revealed(receipt)


async def test_reorg_recomputes_an_epoch_without_the_dropped_weights() -> None:
    chain, _, ms = make_chain()
    chain.advance(TEMPO - 2)
    assert (await chain.set_weights("v0", NET, ms[:1], [65535], 0)).block_number == TEMPO - 1
    chain.advance(1)
    assert chain.epoch_index == 1 and (await chain.neurons(NET))[ms[0]].incentive > 0.99
    chain.reorg(2)
    assert chain.epoch_index == 1 and await chain.last_epoch_block(NET) == TEMPO
    assert (await chain.neurons(NET))[ms[0]].incentive == 0.0


async def test_hotkey_replacement_resets_the_bond_column() -> None:
    chain, (v0, v1), ms = make_chain()
    target, other = ms[0], ms[1]
    for hk in ("v0", "v1"):
        assert (await chain.set_weights(hk, NET, [target, other], [65535, 65535], 0)).ok
    chain.advance(2 * TEMPO - chain.height)
    bonds = chain.bonds_matrix()
    assert bonds[v0, target] > 0 and bonds[v0, other] > 0
    # Not in the epoch's own block: there the chain's "registered after the last epoch"
    # test (block_at_registration > last_epoch_block) does not fire.
    chain.advance(1)
    chain.replace_hotkey(target, "new-miner", "new-cold")
    info = (await chain.neurons(NET))[target]
    assert info.hotkey == "new-miner" and info.block_at_registration == chain.height
    assert target not in await chain.weights_of(NET, v0)
    chain.advance(TEMPO)
    bonds = chain.bonds_matrix()
    assert np.all(bonds[:, target] == 0.0)
    assert bonds[v0, other] > 0 and bonds[v1, other] > 0


async def test_outdated_weights_on_a_replaced_uid_are_masked() -> None:
    chain, (v0, v1), ms = make_chain(commit_reveal_enabled=True, reveal_period_epochs=1)
    target, other = ms[0], ms[1]
    r0 = await chain.set_weights("v0", NET, [target, other], [65535, 65535], 0)
    r1 = await chain.set_weights("v1", NET, [target, other], [65535, 65535], 0)
    assert r0.status is r1.status is SubmissionStatus.COMMITTED
    chain.replace_hotkey(target, "new-miner", "new-cold")
    chain.advance(TEMPO - chain.height)
    # The reveal stores the row as committed, but it predates the registration: masked.
    assert (await chain.weights_of(NET, v0))[target] == 65535
    res = chain.last_epoch
    assert res is not None
    assert res.consensus[target] == 0.0 and res.incentive[target] == 0.0
    assert res.incentive[other] == pytest.approx(1.0)
    assert {(v0, target), (v1, target)} <= {tuple(p) for p in res.outdated_pairs.tolist()}


async def test_injected_rejections_and_timeouts() -> None:
    chain, (v0, _), ms = make_chain()
    chain.inject_rejections(2, ChainError.RATE_LIMIT)
    for _ in range(2):
        r = await chain.set_weights("v0", NET, ms[:1], [65535], 0)
        assert r.status is SubmissionStatus.REJECTED and r.error is ChainError.RATE_LIMIT
    assert await chain.weights_of(NET, v0) == {}
    chain.inject_timeouts(1)
    r = await chain.set_weights("v0", NET, ms[:1], [65535], 0)
    assert r.status is SubmissionStatus.TIMEOUT and r.block_number is None
    assert await chain.weights_of(NET, v0) == {}
    chain.inject_timeouts(1, lands=True)
    r = await chain.set_weights("v0", NET, ms[:1], [65535], 0)
    assert r.status is SubmissionStatus.TIMEOUT
    assert await chain.weights_of(NET, v0) == {ms[0]: 65535}
    chain.advance(3)
    assert (await chain.set_weights("v0", NET, ms[1:2], [65535], 0)).ok


async def test_sim_clock_drives_the_chain() -> None:
    chain, _, _ = make_chain()
    t0 = chain.clock.now()
    assert t0 == chain.clock.genesis
    await chain.clock.sleep(25)
    assert chain.height == 3
    assert chain.clock.now() - t0 == timedelta(seconds=36)
    await chain.clock.sleep(0)
    assert chain.height == 3
    await chain.clock.sleep(12 * TEMPO)
    assert chain.epoch_index == 1


def _simulated(seed: int) -> LocalChain:
    chain = LocalChain(
        seed=seed,
        max_uids=64,
        hyperparameters=SubnetHyperparameters(tempo=20, weights_rate_limit=5),
    )
    miners = chain.register_many([f"m{i}" for i in range(20)], [f"c{i % 5}" for i in range(20)])
    chain.set_miner_quality(np.r_[0.0, np.linspace(0.0, 1.0, 20)])
    chain.add_peer("honest", "h0", 5000, noise=0.3)
    chain.add_peer("honest", "h1", 4000, noise=0.3)
    chain.add_peer("copier", "cp", 2000)
    chain.add_peer("stale", "st", 1500)
    chain.add_peer("self_dealer", "sd", 1000, coldkey="c3")
    chain.refresh_permits()
    chain.advance(200)
    assert len(miners) == 20
    return chain


async def test_same_seed_same_chain_and_peer_behaviour() -> None:
    a, b, c = _simulated(7), _simulated(7), _simulated(8)
    assert a.to_json() == b.to_json()
    assert await a.block_hash(150) == await b.block_hash(150)
    assert a.to_json() != c.to_json()
    w = a.weights_matrix()
    uid = {hk: a.uid_of(hk) for hk in ("h0", "cp", "st", "sd")}
    # Honest peers rank miners by quality (UID 20 is the best, UID 1 worth nothing).
    assert w[uid["h0"], 20] > w[uid["h0"], 10] > 0 and w[uid["h0"], 1] == 0
    # The self-dealer only weights the miners of its own coldkey c3: UIDs 4, 9, 14, 19.
    assert set(np.flatnonzero(w[uid["sd"]]).tolist()) == {4, 9, 14, 19}
    # The stale peer submitted once, long ago; the copier follows consensus.
    lu = {x.hotkey: x.last_update for x in await a.neurons(NET)}
    assert lu["st"] < lu["h0"] and lu["st"] > 0
    assert w[uid["cp"], 20] > w[uid["cp"], 5]
    incentive = np.array([x.incentive for x in await a.neurons(NET)])
    assert incentive[20] > incentive[10] > incentive[2]


async def test_snapshot_round_trip_resumes_identically() -> None:
    original = _simulated(3)
    original.inject_rejections(1, ChainError.MAX_WEIGHT_EXCEEDED)
    text = original.to_json()
    restored = LocalChain.from_json(text)
    assert restored.to_json() == text
    assert await restored.neurons(NET) == await original.neurons(NET)
    assert restored.clock.now() == original.clock.now()
    r1 = await original.set_weights("h0", NET, [5], [65535], 0)
    r2 = await restored.set_weights("h0", NET, [5], [65535], 0)
    assert r1 == r2 and r1.error is ChainError.MAX_WEIGHT_EXCEEDED
    original.advance(75)
    restored.advance(75)
    assert restored.to_json() == original.to_json()
    with pytest.raises(ValueError):
        LocalChain.from_json('{"format": "something-else"}')
