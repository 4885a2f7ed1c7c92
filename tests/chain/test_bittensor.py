"""Contract tests for `BittensorChain`, driven through the SDK's `Substrate` seam.

`bittensor.Client(substrate=FakeSubstrate())` runs the real SDK (intents, preflight, u16
quantisation, timelock encryption, executor, error catalogue) over an in-memory chain;
nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bittensor as bt
import pytest
from bittensor.keyfiles import Keypair
from bittensor.result import chain_error_from_substrate_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minertrace.chain.bittensor.chain import BittensorChain, load_wallet
from minertrace.chain.types import Chain, ChainError, SubmissionStatus
from tests.helpers.fake_subnet import FakeNeuron, FakeSubnet
from tests.helpers.fake_substrate import FakeSubstrate

NETUID = 7
RAO = 1_000_000_000


@dataclass
class DevWallet:
    """A wallet-shaped object (the SDK's `KeyedWallet`) holding dev keypairs."""

    coldkey: Any
    coldkeypub: Any
    hotkey: Any


def dev_wallet(name: str) -> DevWallet:
    cold = Keypair.create_from_uri(f"//{name}Cold")
    return DevWallet(coldkey=cold, coldkeypub=cold, hotkey=Keypair.create_from_uri(f"//{name}"))


VALIDATOR = dev_wallet("Validator")
NO_PERMIT = dev_wallet("Observer")
STRANGER = dev_wallet("Stranger")
MINERS = [dev_wallet(f"Miner{i}") for i in range(4)]


@pytest.fixture(autouse=True)
def _sdk_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Client.connect caches token symbols on disk; keep that out of the user's home.
    monkeypatch.setenv("BTCLI_TOKEN_SYMBOLS_CACHE", str(tmp_path / "token_symbols.json"))


def make_subnet(**hyper: Any) -> FakeSubnet:
    neurons = [
        FakeNeuron(
            hotkey=VALIDATOR.hotkey.ss58_address,
            coldkey=VALIDATOR.coldkeypub.ss58_address,
            stake_rao=1500 * RAO,
            validator_permit=True,
            block_at_registration=12,
            validator_trust=60000,
            dividends=40000,
            emission_rao=3 * RAO // 2,
        ),
        FakeNeuron(
            hotkey=NO_PERMIT.hotkey.ss58_address,
            coldkey=NO_PERMIT.coldkeypub.ss58_address,
            stake_rao=2 * RAO,
            block_at_registration=30,
        ),
    ]
    for i, miner in enumerate(MINERS):
        neurons.append(
            FakeNeuron(
                hotkey=miner.hotkey.ss58_address,
                coldkey=miner.coldkeypub.ss58_address,
                block_at_registration=100 + i,
                incentive=16384 * (i + 1) - 1,
                consensus=8000 + i,
                axon_ip=(10 << 24) + i + 1,
                axon_port=8090 + i,
                active=i != 3,
            )
        )
    defaults: dict[str, Any] = {
        "tempo": 10,
        "weights_rate_limit": 5,
        "min_allowed_weights": 1,
        "last_epoch_block": 995,
        "epoch_index": 40,
    }
    defaults.update(hyper)
    subnet = FakeSubnet(netuid=NETUID, neurons=neurons, **defaults)
    subnet.last_update = [900, 0, 0, 0, 0, 0]
    return subnet


def make_chain(fake: FakeSubstrate, wallet: Any = VALIDATOR, **options: Any) -> BittensorChain:
    return BittensorChain(bt.Client("local", substrate=fake), wallet, **options)


@pytest.fixture
def fake() -> FakeSubstrate:
    substrate = FakeSubstrate(start_block=1000)
    substrate.add_subnet(make_subnet())
    return substrate


@pytest.fixture
def chain(fake: FakeSubstrate) -> BittensorChain:
    return make_chain(fake)


def validator_hotkey() -> str:
    return str(VALIDATOR.hotkey.ss58_address)


# -- protocol and reads ----------------------------------------------------------------


def test_is_a_chain(chain: BittensorChain) -> None:
    assert isinstance(chain, Chain)


async def test_blocks_and_hashes(chain: BittensorChain, fake: FakeSubstrate) -> None:
    assert await chain.current_block() == 1000
    assert await chain.block_hash(998) == fake.hash_of(998)
    assert await chain.block_hash(5000) is None


async def test_neurons_mapped(chain: BittensorChain) -> None:
    neurons = await chain.neurons(NETUID)
    assert [n.uid for n in neurons] == list(range(6))
    v, observer, m0, m1, _m2, m3 = neurons
    assert v.hotkey == validator_hotkey()
    assert v.coldkey == VALIDATOR.coldkeypub.ss58_address
    assert v.stake == pytest.approx(1500.0)
    assert v.validator_permit and not observer.validator_permit
    assert v.last_update == 900
    assert v.block_at_registration == 12
    assert observer.block_at_registration == 30
    assert v.validator_trust == pytest.approx(60000 / 65535)
    assert v.dividends == pytest.approx(40000 / 65535)
    assert v.emission == pytest.approx(1.5)
    assert m0.incentive == pytest.approx(16383 / 65535)
    assert m1.incentive == pytest.approx(32767 / 65535)
    assert m1.consensus == pytest.approx(8001 / 65535)
    assert (m0.axon_ip, m0.axon_port) == ("10.0.0.1", 8090)
    assert (m3.axon_ip, m3.axon_port) == ("10.0.0.4", 8093)
    assert m0.active and not m3.active
    assert m0.block_at_registration == 100


async def test_hyperparameters_mapped(fake: FakeSubstrate) -> None:
    fake.add_subnet(
        make_subnet(
            tempo=360,
            weights_rate_limit=100,
            max_weights_limit=32767,
            min_allowed_weights=8,
            weights_version_key=2001,
            commit_reveal=True,
            reveal_period_epochs=3,
            activity_cutoff=4000,
        )
    )
    hp = await make_chain(fake).hyperparameters(NETUID)
    assert hp.tempo == 360
    assert hp.weights_rate_limit == 100
    assert hp.max_weight_limit == pytest.approx(32767 / 65535)
    assert hp.min_allowed_weights == 8
    assert hp.weights_version_key == 2001
    assert hp.commit_reveal_enabled is True
    assert hp.reveal_period_epochs == 3
    assert hp.activity_cutoff == 4000


async def test_epoch_blocks(chain: BittensorChain, fake: FakeSubstrate) -> None:
    assert await chain.last_epoch_block(NETUID) == 995
    assert await chain.next_epoch_block(NETUID) == 1005
    fake.advance(5)
    assert await chain.last_epoch_block(NETUID) == 1005
    assert await chain.next_epoch_block(NETUID) == 1015


# -- set_weights -----------------------------------------------------------------------


async def test_set_weights_included_with_block_and_hash(
    chain: BittensorChain, fake: FakeSubstrate
) -> None:
    uids, weights = [2, 3, 4], [26214, 65535, 39321]
    receipt = await chain.set_weights(validator_hotkey(), NETUID, uids, weights, 0)
    assert receipt.status is SubmissionStatus.INCLUDED, receipt.message
    assert receipt.ok and receipt.error is None
    assert receipt.block_number == fake.head
    assert receipt.block_hash == fake.hash_of(fake.head)
    assert await chain.block_hash(receipt.block_number) == receipt.block_hash
    # The extrinsic carried exactly minertrace's u16 vector, and the chain holds it.
    _signer, function, params = fake.submitted[-1]
    assert function == "set_mechanism_weights"
    assert (list(params["dests"]), list(params["weights"])) == (uids, weights)
    assert receipt.uids == tuple(uids) and receipt.weights_u16 == tuple(weights)
    assert await chain.weights_of(NETUID, 0) == dict(zip(uids, weights, strict=True))
    assert await chain.is_revealed(receipt)


async def test_zero_weights_are_not_sent(chain: BittensorChain, fake: FakeSubstrate) -> None:
    receipt = await chain.set_weights(validator_hotkey(), NETUID, [2, 3, 4], [65535, 0, 100], 0)
    assert receipt.status is SubmissionStatus.INCLUDED
    assert receipt.uids == (2, 4) and receipt.weights_u16 == (65535, 100)
    assert await chain.weights_of(NETUID, 0) == {2: 65535, 4: 100}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rest=st.lists(st.integers(min_value=1, max_value=65535), min_size=1, max_size=3),
    limit=st.sampled_from([65535, 45000, 30000]),
)
async def test_sdk_reproduces_the_u16_vector(rest: list[int], limit: int) -> None:
    weights = [65535, *rest]
    fake = FakeSubstrate(start_block=1000)
    fake.add_subnet(make_subnet(weights_rate_limit=0, max_weights_limit=limit))
    chain = make_chain(fake)
    uids = list(range(2, 2 + len(weights)))
    receipt = await chain.set_weights(validator_hotkey(), NETUID, uids, weights, 0)
    if max(weights) * 65535 > limit * sum(weights):
        assert receipt.error is ChainError.MAX_WEIGHT_EXCEEDED
        assert fake.submitted == []
    else:
        assert receipt.status is SubmissionStatus.INCLUDED, receipt.message
        assert list(fake.submitted[-1][2]["weights"]) == weights
        assert await chain.weights_of(NETUID, 0) == dict(zip(uids, weights, strict=True))


async def _rejection(
    fake: FakeSubstrate, wallet: Any, uids: list[int], weights: list[int], version_key: int = 0
) -> tuple[ChainError | None, Any]:
    chain = make_chain(fake, wallet)
    receipt = await chain.set_weights(
        str(wallet.hotkey.ss58_address), NETUID, uids, weights, version_key
    )
    assert receipt.status is SubmissionStatus.REJECTED, receipt
    assert not receipt.ok
    return receipt.error, receipt


async def test_not_registered(fake: FakeSubstrate) -> None:
    error, _ = await _rejection(fake, STRANGER, [2, 3], [65535, 1])
    assert error is ChainError.HOTKEY_NOT_REGISTERED


async def test_no_validator_permit(fake: FakeSubstrate) -> None:
    error, receipt = await _rejection(fake, NO_PERMIT, [2, 3], [65535, 1])
    assert error is ChainError.NO_VALIDATOR_PERMIT
    # Refused on chain: the extrinsic was included (and paid for) in a block.
    assert receipt.block_number == fake.head
    assert receipt.block_hash == fake.hash_of(fake.head)


async def test_incorrect_version_key(fake: FakeSubstrate) -> None:
    fake.subnets[NETUID].weights_version_key = 5
    error, _ = await _rejection(fake, VALIDATOR, [2, 3], [65535, 1], version_key=4)
    assert error is ChainError.INCORRECT_VERSION_KEY
    fake.advance(10)
    receipt = await make_chain(fake).set_weights(validator_hotkey(), NETUID, [2, 3], [65535, 1], 5)
    assert receipt.status is SubmissionStatus.INCLUDED


async def test_rate_limit(fake: FakeSubstrate) -> None:
    fake.subnets[NETUID].last_update[0] = fake.head - 2
    error, _ = await _rejection(fake, VALIDATOR, [2, 3], [65535, 1])
    assert error is ChainError.RATE_LIMIT
    assert fake.submitted == []


async def test_invalid_uid(fake: FakeSubstrate) -> None:
    error, _ = await _rejection(fake, VALIDATOR, [2, 99], [65535, 1])
    assert error is ChainError.INVALID_UID


async def test_too_few_weights(fake: FakeSubstrate) -> None:
    fake.subnets[NETUID].min_allowed_weights = 3
    error, _ = await _rejection(fake, VALIDATOR, [2, 3], [65535, 1])
    assert error is ChainError.TOO_FEW_WEIGHTS


async def test_max_weight_exceeded_is_refused_before_sending(fake: FakeSubstrate) -> None:
    fake.subnets[NETUID].max_weights_limit = 32767
    error, _ = await _rejection(fake, VALIDATOR, [2, 3], [65535, 100])
    assert error is ChainError.MAX_WEIGHT_EXCEEDED
    assert fake.submitted == []


async def test_max_weight_exceeded_on_chain(fake: FakeSubstrate) -> None:
    # One non-self weight is only judged by the chain (it alone knows the caller's uid).
    fake.subnets[NETUID].max_weights_limit = 32767
    error, _ = await _rejection(fake, VALIDATOR, [3], [65535])
    assert error is ChainError.MAX_WEIGHT_EXCEEDED
    assert len(fake.submitted) == 1


@pytest.mark.parametrize(
    ("uids", "weights", "expected"),
    [
        ([2, 2], [65535, 1], ChainError.DUPLICATE_UIDS),
        ([2, 3], [65535], ChainError.WEIGHT_VEC_LENGTH_MISMATCH),
        ([2, 3], [0, 0], ChainError.ALL_WEIGHTS_ZERO),
        ([2, 3], [65535, -1], ChainError.NEGATIVE_WEIGHTS),
    ],
)
async def test_malformed_vectors_never_reach_the_chain(
    fake: FakeSubstrate, uids: list[int], weights: list[int], expected: ChainError
) -> None:
    error, _ = await _rejection(fake, VALIDATOR, uids, weights)
    assert error is expected
    assert fake.submitted == []


async def test_pool_rejection_is_mapped(fake: FakeSubstrate) -> None:
    # A transaction-pool refusal (InvalidTransaction::Custom(6)), decoded by the SDK.
    fake.pool_error = chain_error_from_substrate_request(
        Exception("Invalid Transaction: Custom error: 6")
    )
    error, receipt = await _rejection(fake, VALIDATOR, [2, 3], [65535, 1])
    assert error is ChainError.RATE_LIMIT
    assert receipt.block_number is None


async def test_timeout(fake: FakeSubstrate) -> None:
    fake.hang_submissions = True
    chain = make_chain(fake, submit_timeout=0.2)
    receipt = await chain.set_weights(validator_hotkey(), NETUID, [2, 3], [65535, 1], 0)
    assert receipt.status is SubmissionStatus.TIMEOUT
    assert receipt.error is ChainError.TIMEOUT


async def test_hotkey_must_be_the_wallets(chain: BittensorChain, fake: FakeSubstrate) -> None:
    receipt = await chain.set_weights(
        str(MINERS[0].hotkey.ss58_address), NETUID, [2, 3], [65535, 1], 0
    )
    assert receipt.status is SubmissionStatus.REJECTED
    assert fake.submitted == []


# -- commit-reveal ---------------------------------------------------------------------


@pytest.fixture
def cr_fake() -> FakeSubstrate:
    substrate = FakeSubstrate(start_block=1000)
    subnet = substrate.add_subnet(make_subnet(commit_reveal=True, reveal_period_epochs=2))
    subnet.weights[0] = [(2, 65535), (3, 65535)]
    return substrate


async def test_commit_then_reveal(cr_fake: FakeSubstrate) -> None:
    chain = make_chain(cr_fake)
    uids, weights = [2, 3, 4], [26214, 65535, 39321]
    receipt = await chain.set_weights(validator_hotkey(), NETUID, uids, weights, 0)
    assert receipt.status is SubmissionStatus.COMMITTED, receipt.message
    assert receipt.ok
    assert receipt.block_number == cr_fake.head == 1001
    assert receipt.block_hash == cr_fake.hash_of(1001)
    # Committed in epoch 40 (last epoch at 995, tempo 10): revealed at the start of 42.
    assert receipt.reveal_epoch == 42
    assert receipt.reveal_block == 1015
    assert "reveal round" in receipt.message
    _signer, function, params = cr_fake.submitted[-1]
    assert function == "commit_timelocked_mechanism_weights"
    assert "dests" not in params and len(params["commit"]) > 0
    assert cr_fake.subnets[NETUID].last_update[0] == 1001

    # The drand beacon's part, which cannot be played offline: the committed plaintext.
    cr_fake.beacon[validator_hotkey()] = (uids, weights, 0)
    assert not await chain.is_revealed(receipt)
    cr_fake.advance(1013 - cr_fake.head)
    assert await chain.weights_of(NETUID, 0) == {2: 65535, 3: 65535}
    assert not await chain.is_revealed(receipt)
    cr_fake.advance(1015 - cr_fake.head)
    assert await chain.weights_of(NETUID, 0) == dict(zip(uids, weights, strict=True))
    assert await chain.is_revealed(receipt)


async def test_failed_reveal_is_not_confirmed(cr_fake: FakeSubstrate) -> None:
    chain = make_chain(cr_fake)
    receipt = await chain.set_weights(validator_hotkey(), NETUID, [2, 3], [65535, 30000], 0)
    assert receipt.status is SubmissionStatus.COMMITTED
    cr_fake.advance(30)  # no plaintext reaches the chain: the reveal fails silently
    assert await chain.weights_of(NETUID, 0) == {2: 65535, 3: 65535}
    assert not await chain.is_revealed(receipt)


async def test_matching_row_before_the_reveal_epoch_is_not_a_reveal(
    cr_fake: FakeSubstrate,
) -> None:
    chain = make_chain(cr_fake)
    receipt = await chain.set_weights(validator_hotkey(), NETUID, [2, 3], [65535, 65535], 0)
    assert await chain.weights_of(NETUID, 0) == {2: 65535, 3: 65535}
    assert not await chain.is_revealed(receipt)


# -- wallets ---------------------------------------------------------------------------


def test_wallet_from_settings_names(tmp_path: Path, fake: FakeSubstrate) -> None:
    wallet = bt.Wallet("validator", "hot1", str(tmp_path))
    wallet.create_new_coldkey(use_password=False, suppress=True)
    wallet.create_new_hotkey(suppress=True)
    chain = BittensorChain.from_settings("local", "validator", "hot1", str(tmp_path))
    assert chain.hotkey == wallet.hotkey.ss58_address
    with pytest.raises(FileNotFoundError, match="hot2"):
        load_wallet("validator", "hot2", str(tmp_path))


async def test_wallet_on_disk_signs_weights(tmp_path: Path, fake: FakeSubstrate) -> None:
    wallet = bt.Wallet("validator", "hot1", str(tmp_path))
    wallet.create_new_coldkey(use_password=False, suppress=True)
    wallet.create_new_hotkey(suppress=True)
    fake.subnets[NETUID].neurons[0].hotkey = wallet.hotkey.ss58_address
    chain = make_chain(fake, load_wallet("validator", "hot1", str(tmp_path)))
    receipt = await chain.set_weights(chain.hotkey, NETUID, [2, 3], [65535, 7], 0)
    assert receipt.status is SubmissionStatus.INCLUDED, receipt.message
    assert fake.submitted[-1][0] == wallet.hotkey.ss58_address


# -- construction ----------------------------------------------------------------------


async def test_accepts_a_subtensor_object(fake: FakeSubstrate) -> None:
    subtensor = bt.Subtensor("local", substrate=fake)
    async with BittensorChain(subtensor, VALIDATOR) as chain:
        assert await chain.current_block() == fake.head
        assert fake.connected
    # A client handed in belongs to the caller: leaving the chain does not close it.
    assert fake.connected


def test_network_name_connects_lazily() -> None:
    chain = BittensorChain("finney", VALIDATOR)
    assert chain.hotkey == VALIDATOR.hotkey.ss58_address
