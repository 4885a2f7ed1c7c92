"""An in-memory subtensor behind the bittensor SDK's `Substrate` seam.

bittensor v11 lets a `Client` run over any object that implements its `Substrate`
protocol (`bittensor.Client(substrate=...)`). `FakeSubstrate` is such an object: it
answers the storage reads, runtime-API calls and extrinsic submissions that the SDK
issues on behalf of `BittensorChain`, so everything above that seam (the SDK's
`SetWeights` intent with its preflight, u16 quantisation and max-weight clip, the
timelock encryption of commit-reveal, the executor, the error catalogue) runs for real.

What the fake models is the part of subtensor that weight setting touches, following
spec/chain.md: registration, permits, the version key, the rate limit, uid checks, the
minimum weight count, the max-weight limit, commit-reveal, epochs every `tempo` blocks.
Failed extrinsics are reported the way the chain reports them, as a module
`DispatchError` (pallet index, error index), which the SDK's own catalogue decodes into
an error name.

Two limits, both deliberate:
- Reads ignore `block_hash` and return the head state (no historical state is kept).
- Timelocked commits cannot be decrypted offline: the chain decrypts them with the drand
  beacon's signature for the reveal round, which only the drand network produces. The
  test therefore plays the beacon: `beacon[hotkey]` holds the plaintext the fake
  applies when the commit's reveal epoch starts. A commit with no plaintext registered
  is dropped at reveal time, like a reveal that fails on chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from bittensor import Balance, ExtrinsicResult
from bittensor._generated.errors import ERRORS
from bittensor.result import chain_error_from_dispatch

from tests.helpers.fake_subnet import U16_MAX, FakeSubnet
from tests.helpers.substrate_unmodelled import UnmodelledSubstrateCalls

_MODULE = "SubtensorModule"
# (pallet index, error index) of every SubtensorModule error, by name, from the SDK's
# generated catalogue, so a failure is encoded exactly as the runtime would encode it.
_ERROR_INDEX = {info.name: key for key, info in ERRORS.items() if info.pallet == _MODULE}


class FakeSubstrate(UnmodelledSubstrateCalls):
    """In-memory implementation of `bittensor.Substrate` backed by `FakeSubnet`s."""

    def __init__(self, start_block: int = 1000, block_time_ms: int = 12000) -> None:
        self.token_symbols: dict[int, str] = {}
        self.subnets: dict[int, FakeSubnet] = {}
        self.head = start_block
        self.block_time_ms = block_time_ms
        self.connected = False
        self.beacon: dict[str, tuple[list[int], list[int], int]] = {}
        self.submitted: list[tuple[str, str, dict[str, Any]]] = []
        self.events_by_block: dict[int, list[dict[str, Any]]] = {}
        self.pool_error: Any = None
        self.hang_submissions = False
        self.queries: list[tuple[str, str]] = []

    # -- setup helpers used by tests ------------------------------------------------

    def add_subnet(self, subnet: FakeSubnet) -> FakeSubnet:
        if len(subnet.last_update) < len(subnet.neurons):
            subnet.last_update += [0] * (len(subnet.neurons) - len(subnet.last_update))
        self.subnets[subnet.netuid] = subnet
        return subnet

    def hash_of(self, number: int) -> str:
        return "0x" + hashlib.sha256(f"fake-block-{number}".encode()).hexdigest()

    def advance(self, blocks: int = 1) -> None:
        """Produce `blocks` empty blocks, running epochs (and reveals) as they fall due."""
        for _ in range(blocks):
            self._produce_block()

    def _produce_block(self) -> int:
        self.head += 1
        for subnet in self.subnets.values():
            if subnet.tempo and self.head - subnet.last_epoch_block >= subnet.tempo:
                self._run_epoch(subnet)
        return self.head

    def _run_epoch(self, subnet: FakeSubnet) -> None:
        subnet.epoch_index += 1
        subnet.last_epoch_block = self.head
        # Commits made in epoch e are applied at the start of epoch e + RevealPeriodEpochs.
        due = subnet.epoch_index - subnet.reveal_period_epochs
        for key in [e for e in subnet.commits if e <= due]:
            for hotkey, _block, _ciphertext, _round in subnet.commits.pop(key):
                plaintext = self.beacon.get(hotkey)
                uid = subnet.uid_of(hotkey)
                if plaintext is None or uid is None:
                    continue
                uids, values, version_key = plaintext
                error = self._weights_error(
                    subnet, uid, uids, values, version_key, check_rate=False
                )
                if error is None:
                    subnet.weights[uid] = _max_upscale(uids, values)
                    self._event(
                        "TimelockedWeightsRevealed", {"netuid": subnet.netuid, "hotkey": hotkey}
                    )

    def _event(self, name: str, attributes: dict[str, Any]) -> None:
        record = {
            "event": {"module_id": _MODULE, "event_id": name, "attributes": attributes},
            "extrinsic_idx": 1,
        }
        self.events_by_block.setdefault(self.head, []).append(record)

    # -- Substrate protocol: display and lifecycle ----------------------------------

    def balance(self, rao: int, netuid: int = 0) -> Balance:
        return Balance.from_rao(int(rao), netuid, self.token_symbols.get(netuid))

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    # -- reads -------------------------------------------------------------------------

    async def block_hash(self, block: int | None = None) -> str:
        number = self.head if block is None else block
        if number > self.head or number < 0:
            raise LookupError(f"block {number} is not known")
        return self.hash_of(number)

    async def block_number(self) -> int:
        return self.head

    async def finalized_block_number(self) -> int:
        return self.head

    async def block_time(self) -> float:
        return self.block_time_ms / 1000.0

    async def spec_version(self) -> int:
        return 400

    async def get_block(
        self, block_number: int | None = None, block_hash: str | None = None
    ) -> dict[str, Any] | None:
        number = self.head if block_number is None else block_number
        if number > self.head or number < 0:
            return None
        timestamp = {
            "call": {
                "call_module": "Timestamp",
                "call_function": "set",
                "call_args": [{"name": "now", "value": number * self.block_time_ms}],
            }
        }
        header = {
            "number": number,
            "hash": self.hash_of(number),
            "parentHash": self.hash_of(number - 1),
        }
        return {"header": header, "extrinsics": [timestamp]}

    async def query(
        self,
        module: str,
        storage_function: str,
        params: list[Any] | None = None,
        block_hash: str | None = None,
    ) -> Any:
        self.queries.append((module, storage_function))
        params = list(params or [])
        if module == "Timestamp" and storage_function == "Now":
            return self.head * self.block_time_ms
        if module == "MevShield" and storage_function == "NextKey":
            return None
        if module != _MODULE:
            raise NotImplementedError(f"FakeSubstrate: no storage {module}.{storage_function}")
        subnet = self.subnets.get(int(params[0]) % 4096) if params else None
        if subnet is None:
            raise NotImplementedError(f"FakeSubstrate: no subnet for {storage_function}{params}")
        scalars: dict[str, Any] = {
            "Tempo": subnet.tempo,
            "WeightsSetRateLimit": subnet.weights_rate_limit,
            "MaxWeightsLimit": subnet.max_weights_limit,
            "MinAllowedWeights": subnet.min_allowed_weights,
            "WeightsVersionKey": subnet.weights_version_key,
            "CommitRevealWeightsEnabled": subnet.commit_reveal,
            "RevealPeriodEpochs": subnet.reveal_period_epochs,
            "ActivityCutoff": subnet.activity_cutoff,
            "LastEpochBlock": subnet.last_epoch_block,
            "SubnetEpochIndex": subnet.epoch_index,
            "PendingEpochAt": 0,
            "BlocksSinceLastStep": self.head - subnet.last_epoch_block,
            "SubnetEpochConsensus": "Yuma",
            "LastUpdate": list(subnet.last_update),
            "ValidatorPermit": [n.validator_permit for n in subnet.neurons],
        }
        if storage_function in scalars:
            return scalars[storage_function]
        if storage_function == "Uids":
            return subnet.uid_of(str(params[1]))
        if storage_function == "Weights":
            return list(subnet.weights.get(int(params[1]), []))
        if storage_function == "BlockAtRegistration":
            return subnet.neurons[int(params[1])].block_at_registration
        raise NotImplementedError(f"FakeSubstrate: no storage {module}.{storage_function}")

    async def map_has_entries(
        self,
        module: str,
        storage_function: str,
        params: list[Any],
        block_hash: str | None = None,
    ) -> bool:
        return bool(await self.query_map(module, storage_function, params, block_hash))

    async def query_map(
        self,
        module: str,
        storage_function: str,
        params: list[Any] | None = None,
        block_hash: str | None = None,
    ) -> list[tuple[Any, Any]]:
        self.queries.append((module, storage_function))
        if (module, storage_function) == (_MODULE, "TokenSymbol"):
            return []
        subnet = self.subnets.get(int((params or [-1])[0]) % 4096)
        if module != _MODULE or subnet is None:
            raise NotImplementedError(f"FakeSubstrate: no map {module}.{storage_function}")
        if storage_function == "BlockAtRegistration":
            return [(uid, n.block_at_registration) for uid, n in enumerate(subnet.neurons)]
        if storage_function == "Weights":
            return sorted(subnet.weights.items())
        if storage_function == "TimelockedWeightCommits":
            return [
                (epoch, [(h, b, "0x" + c.hex(), r) for h, b, c, r in rows])
                for epoch, rows in sorted(subnet.commits.items())
            ]
        raise NotImplementedError(f"FakeSubstrate: no map {module}.{storage_function}")

    async def query_batch(
        self,
        module: str,
        storage_function: str,
        param_sets: list[list[Any]],
        block_hash: str | None = None,
    ) -> list[Any]:
        return [await self.query(module, storage_function, p, block_hash) for p in param_sets]

    async def runtime_call(
        self, api: str, method: str, params: list[Any], block_hash: str | None = None
    ) -> Any:
        self.queries.append((api, method))
        subnet = self.subnets.get(int(params[0])) if params else None
        if subnet is None:
            return None
        if (api, method) == ("NeuronInfoRuntimeApi", "get_neurons_lite"):
            return [self._neuron_record(subnet, uid) for uid in range(len(subnet.neurons))]
        if (api, method) == ("SubnetInfoRuntimeApi", "get_next_epoch_start_block"):
            return subnet.last_epoch_block + subnet.tempo if subnet.tempo else None
        raise NotImplementedError(f"FakeSubstrate: no runtime API {api}.{method}")

    def _neuron_record(self, subnet: FakeSubnet, uid: int) -> dict[str, Any]:
        """A decoded `NeuronInfoLite`, field names and raw units as the runtime declares them."""
        n = subnet.neurons[uid]
        return {
            "hotkey": n.hotkey,
            "coldkey": n.coldkey,
            "uid": uid,
            "netuid": subnet.netuid,
            "active": n.active,
            "axon_info": {
                "block": n.block_at_registration,
                "version": 1,
                "ip": n.axon_ip,
                "port": n.axon_port,
                "ip_type": n.axon_ip_type,
                "protocol": 4,
                "placeholder1": 0,
                "placeholder2": 0,
            },
            "prometheus_info": {"block": 0, "version": 0, "ip": 0, "port": 0, "ip_type": 0},
            "stake": [(n.coldkey, n.stake_rao)],
            "rank": 0,
            "emission": n.emission_rao,
            "incentive": n.incentive,
            "consensus": n.consensus,
            "trust": n.trust,
            "validator_trust": n.validator_trust,
            "dividends": n.dividends,
            "last_update": subnet.last_update[uid],
            "validator_permit": n.validator_permit,
            "pruning_score": 0,
        }

    async def constant(self, module: str, name: str) -> Any:
        if (module, name) == ("Aura", "SlotDuration"):
            return self.block_time_ms
        raise NotImplementedError(f"FakeSubstrate: no constant {module}.{name}")

    async def decode_scale(self, type_string: str, data: Any) -> Any:
        raise NotImplementedError("FakeSubstrate: decode_scale")

    async def blocks(self, *, finalized: bool = False) -> AsyncIterator[dict[str, Any]]:
        while True:
            self._produce_block()
            yield {"header": {"number": self.head, "hash": self.hash_of(self.head)}}

    async def events(self, block_hash: str | None = None) -> list[dict[str, Any]]:
        for number, records in self.events_by_block.items():
            if self.hash_of(number) == block_hash:
                return list(records)
        return []

    # -- calls and fees ----------------------------------------------------------------

    async def compose(self, call: Any) -> Any:
        return call

    async def estimate_fee(self, call: Any, keypair: Any) -> Balance:
        return Balance.from_rao(0)

    async def estimate_weight(self, call: Any, keypair: Any) -> dict[str, int]:
        return {"ref_time": 0, "proof_size": 0}

    async def account_next_index(self, address: str) -> int:
        return 0

    async def mev_next_key(self) -> bytes | None:
        return None

    # -- writes ------------------------------------------------------------------------

    async def submit(
        self,
        call: Any,
        keypair: Any,
        *,
        nonce: int | None = None,
        period: int | None = 64,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        if self.hang_submissions:
            import asyncio

            await asyncio.Event().wait()
        module, function, params = call
        signer = keypair.ss58_address
        self.submitted.append((signer, function, dict(params)))
        if self.pool_error is not None:
            # A transaction-pool refusal never reaches a block.
            error, self.pool_error = self.pool_error, None
            return ExtrinsicResult(success=False, message=error.message, error=error)
        block = self._produce_block()
        error = self._dispatch(module, function, params, signer)
        extrinsic_id = f"{block}-0001"
        if error is not None:
            chain_error = chain_error_from_dispatch(
                {"Module": {"index": _ERROR_INDEX[error][0], "error": [_ERROR_INDEX[error][1]]}}
            )
            return ExtrinsicResult(
                success=False,
                message=chain_error.message,
                block_hash=self.hash_of(block),
                extrinsic_id=extrinsic_id,
                error=chain_error,
            )
        return ExtrinsicResult(
            success=True,
            message="Success",
            block_hash=self.hash_of(block),
            extrinsic_id=extrinsic_id,
            fee=Balance.from_rao(0),
            events=list(self.events_by_block.get(block, [])),
        )

    def _dispatch(
        self, module: str, function: str, params: dict[str, Any], signer: str
    ) -> str | None:
        """Apply one call at the head block; the error name on failure."""
        if module != _MODULE:
            raise NotImplementedError(f"FakeSubstrate: no call {module}.{function}")
        subnet = self.subnets[int(params["netuid"])]
        uid = subnet.uid_of(signer)
        if function == "set_mechanism_weights":
            if uid is None:
                return "HotKeyNotRegisteredInSubNet"
            error = self._weights_error(
                subnet,
                uid,
                list(params["dests"]),
                list(params["weights"]),
                params["version_key"],
                check_rate=True,
            )
            if error is None and subnet.commit_reveal:
                error = "CommitRevealEnabled"
            if error is not None:
                return error
            subnet.weights[uid] = _max_upscale(list(params["dests"]), list(params["weights"]))
            subnet.last_update[uid] = self.head
            self._event("WeightsSet", {"netuid": subnet.netuid, "uid": uid})
            return None
        if function == "commit_timelocked_mechanism_weights":
            if uid is None:
                return "HotKeyNotRegisteredInSubNet"
            if not subnet.commit_reveal:
                return "CommitRevealDisabled"
            if not self._rate_ok(subnet, uid):
                return "CommittingWeightsTooFast"
            commit = params["commit"]
            ciphertext = bytes(commit) if not isinstance(commit, str) else bytes.fromhex(commit)
            subnet.commits.setdefault(subnet.epoch_index, []).append(
                (signer, self.head, ciphertext, int(params["reveal_round"]))
            )
            subnet.last_update[uid] = self.head
            self._event("TimelockedWeightsCommitted", {"netuid": subnet.netuid, "hotkey": signer})
            return None
        raise NotImplementedError(f"FakeSubstrate: no call {module}.{function}")

    def _rate_ok(self, subnet: FakeSubnet, uid: int) -> bool:
        return self.head - subnet.last_update[uid] >= subnet.weights_rate_limit

    def _weights_error(
        self,
        subnet: FakeSubnet,
        uid: int,
        uids: list[int],
        values: list[int],
        version_key: int,
        *,
        check_rate: bool,
    ) -> str | None:
        """The chain's weight checks after registration, in spec/chain.md order."""
        n = len(subnet.neurons)
        if not subnet.neurons[uid].validator_permit:
            return "NeuronNoValidatorPermit"
        if version_key < subnet.weights_version_key:
            return "IncorrectWeightVersionKey"
        if check_rate and not self._rate_ok(subnet, uid):
            return "SettingWeightsTooFast"
        if len(uids) != len(values):
            return "WeightVecNotEqualSize"
        if len(set(uids)) != len(uids):
            return "DuplicateUids"
        if any(u < 0 or u >= n for u in uids):
            return "UidVecContainInvalidOne"
        self_only = uids == [uid]
        if not self_only and len(uids) < min(subnet.min_allowed_weights, n):
            return "WeightVecLengthIsLow"
        upscaled = [w for _, w in _max_upscale(uids, values)]
        total = sum(upscaled)
        limit = subnet.max_weights_limit
        if limit != U16_MAX and not self_only and total and max(upscaled) * U16_MAX > limit * total:
            return "MaxWeightExceeded"
        return None


def _max_upscale(uids: list[int], values: list[int]) -> list[tuple[int, int]]:
    """The pallet's storage form: the largest weight becomes u16::MAX."""
    top = max(values) if values else 0
    if top == 0:
        return [(int(u), 0) for u in uids]
    return [
        (int(u), (int(w) * U16_MAX + top // 2) // top) for u, w in zip(uids, values, strict=True)
    ]
