"""`LocalChain`: an in-process subnet that behaves like subtensor where minertrace cares.

One subnet (`netuid`), UIDs `0 .. n-1` up to `max_uids`, the owner on UID 0. Blocks are
produced explicitly (`advance`, or a `set_weights` call, which is included in the next
block); every `tempo` blocks an epoch runs Yuma Consensus (`minertrace.chain.yuma`) over
the u16 weights the chain holds. `clock` is a simulated clock (12 s per block) that the rest
of minertrace can use, so a validator loop sleeping on it runs the subnet at full speed.

What is modelled: registration and pruning, hotkey replacement (`block_at_registration`,
the UID's row, column and bonds cleared as subtensor's `clear_neuron` does), stake, permits
recomputed at each epoch, `set_weights` with the chain's checks in order and max-upscaled
u16 storage, optional commit-reveal, block hashes, reorgs, fault injection and simulated
peer validators. Not modelled: the stake economy (emission does not compound into stake),
liquid alpha, several mechanisms per subnet, the owner triggering epochs.

Administrative calls (`register`, `replace_hotkey`, `set_stake`, `add_peer`,
`set_miner_quality`, `set_hyperparameters`) act immediately on the current state, like a
sudo call; a reorg does not undo them. Extrinsics (weights and commits, the simulator's
peers included) and epochs are recorded per block and a reorg undoes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from minertrace.chain import storage
from minertrace.chain.peers import Peer, PeerKind, peer_rng, peer_weights
from minertrace.chain.simclock import SimClock
from minertrace.chain.types import (
    ChainError,
    NeuronInfo,
    SubmissionReceipt,
    SubmissionStatus,
    SubnetHyperparameters,
)
from minertrace.chain.yuma import (
    EpochResult,
    Liveness,
    YumaParams,
    epoch,
    new_permits,
    normalize_stake,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SNAPSHOT_FORMAT = "minertrace-localchain/1"
DEFAULT_GENESIS = datetime(2025, 1, 1, tzinfo=timezone.utc)

_Rejection = tuple[ChainError, str]


@dataclasses.dataclass(slots=True)
class Commit:
    """A commit-reveal commit: weights that apply at the start of `reveal_epoch`."""

    id: int
    uid: int
    hotkey: str
    uids: tuple[int, ...]
    weights_u16: tuple[int, ...]
    version_key: int
    block: int
    epoch: int
    reveal_epoch: int
    status: str = "pending"
    """`pending`, `revealed` (weights applied) or `failed` (see `reason`)."""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["uids"] = list(self.uids)
        d["weights_u16"] = list(self.weights_u16)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Commit:
        """Inverse of `to_json`."""
        return cls(**{**d, "uids": tuple(d["uids"]), "weights_u16": tuple(d["weights_u16"])})


@dataclasses.dataclass(frozen=True, slots=True)
class _Fault:
    kind: str
    error: ChainError | None = None
    lands: bool = False


class LocalChain:
    """An in-process subnet implementing the `Chain` protocol.

    Construction registers the subnet owner on UID 0 (unless `owner_hotkey` is None).
    Nobody holds a validator permit until the first epoch computes permits; call
    `refresh_permits()` to grant them at once (a genesis convenience).

    Public API (besides the `Chain` protocol methods, which are coroutines):
    `register`, `register_many`, `replace_hotkey`, `set_stake`, `serve_axon`, `add_peer`,
    `set_miner_quality`, `set_hyperparameters`, `refresh_permits`, `advance`, `reorg`,
    `inject_rejections`, `inject_timeouts`, `to_json`/`from_json`, and the read-only
    `height`, `n`, `epoch_index`, `clock`, `owner_uid`, `last_epoch`, `commits`,
    `uid_of`, `weights_matrix`, `bonds_matrix`.
    """

    def __init__(
        self,
        *,
        netuid: int = 1,
        max_uids: int = 256,
        hyperparameters: SubnetHyperparameters | None = None,
        yuma: YumaParams | None = None,
        seed: int = 0,
        genesis_time: datetime = DEFAULT_GENESIS,
        emission_per_block: float = 1.0,
        immunity_period: int = 4096,
        max_reorg_depth: int = 256,
        owner_hotkey: str | None = "owner",
        owner_coldkey: str = "owner-coldkey",
    ) -> None:
        if max_uids < 1:
            raise ValueError("max_uids must be positive")
        self.netuid = netuid
        self.max_uids = max_uids
        self.seed = seed
        self.emission_per_block = emission_per_block
        self.immunity_period = immunity_period
        self.max_reorg_depth = max_reorg_depth
        self._hp = hyperparameters if hyperparameters is not None else SubnetHyperparameters()
        self._yuma = yuma if yuma is not None else YumaParams()
        self.clock = SimClock(self, genesis_time)

        cap = max_uids
        self._n = 0
        self._hotkeys: list[str] = []
        self._coldkeys: list[str] = []
        self._uid_of: dict[str, int] = {}
        self._axon_ip: list[str] = []
        self._axon_port: list[int] = []
        self._stake = np.zeros(cap, dtype=np.float64)
        self._permit = np.zeros(cap, dtype=np.bool_)
        self._active = np.zeros(cap, dtype=np.bool_)
        self._last_update = np.zeros(cap, dtype=np.int64)
        self._registered_at = np.zeros(cap, dtype=np.int64)
        self._out: dict[str, FloatArray] = {
            k: np.zeros(cap, dtype=np.float64)
            for k in ("consensus", "incentive", "dividends", "validator_trust", "emission")
        }
        self._quality = np.zeros(cap, dtype=np.float64)
        self._weights = np.zeros((cap, cap), dtype=np.uint16)
        self._bonds = np.zeros((cap, cap), dtype=np.float64)

        self._height = 0
        self._last_epoch_block = 0
        self._epoch_count = 0
        self._forks: dict[int, int] = {}
        self._commits: list[Commit] = []
        self._next_commit_id = 0
        self._peers: dict[int, Peer] = {}
        self._faults: list[_Fault] = []
        self._last_consensus: FloatArray | None = None
        self._last_epoch: EpochResult | None = None
        self._journal: dict[int, list[Callable[[], None]]] = {}

        self._owner_uid: int | None = None
        if owner_hotkey is not None:
            self._owner_uid = self.register(owner_hotkey, owner_coldkey)
            self._permit[self._owner_uid] = True

    # ---------------------------------------------------------------- read-only state

    @property
    def height(self) -> int:
        """Current best block."""
        return self._height

    @property
    def n(self) -> int:
        """Number of registered UIDs."""
        return self._n

    @property
    def epoch_index(self) -> int:
        """Number of epochs run so far (blocks after the k-th epoch are in epoch k)."""
        return self._epoch_count

    @property
    def owner_uid(self) -> int | None:
        """The subnet owner's UID."""
        return self._owner_uid

    @property
    def last_epoch(self) -> EpochResult | None:
        """Full float64 result of the last epoch run (not kept in snapshots)."""
        return self._last_epoch

    @property
    def commits(self) -> list[Commit]:
        """Commit-reveal commits on the best chain, oldest first (copies)."""
        return [dataclasses.replace(c) for c in self._commits]

    @property
    def yuma_params(self) -> YumaParams:
        """The Yuma parameters, with the owner UID filled in."""
        return dataclasses.replace(self._yuma, owner_uid=self._owner_uid)

    def uid_of(self, hotkey: str) -> int | None:
        """UID of a registered hotkey, or None."""
        return self._uid_of.get(hotkey)

    def weights_matrix(self) -> npt.NDArray[np.uint16]:
        """Copy of the n x n u16 weights the chain holds (row = setter)."""
        out: npt.NDArray[np.uint16] = self._weights[: self._n, : self._n].copy()
        return out

    def bonds_matrix(self) -> FloatArray:
        """Copy of the n x n bonds carried into the next epoch."""
        out: FloatArray = self._bonds[: self._n, : self._n].copy()
        return out

    # ---------------------------------------------------------------- administration

    def register(
        self,
        hotkey: str,
        coldkey: str,
        stake: float = 0.0,
        *,
        axon_ip: str = "0.0.0.0",
        axon_port: int = 0,
    ) -> int:
        """Register `hotkey` at the current block and return its UID.

        Takes the next free UID; on a full subnet it replaces the prunable neuron with the
        lowest emission (outside the immunity period if possible, never the owner).
        """
        if hotkey in self._uid_of:
            raise ValueError(f"hotkey {hotkey!r} is already registered")
        if stake < 0:
            raise ValueError("stake must be non-negative")
        if self._n < self.max_uids:
            uid = self._n
            self._n += 1
            self._hotkeys.append(hotkey)
            self._coldkeys.append(coldkey)
            self._axon_ip.append(axon_ip)
            self._axon_port.append(axon_port)
            self._uid_of[hotkey] = uid
            self._fresh_neuron(uid, stake)
            return uid
        uid = self._prune_candidate()
        self.replace_hotkey(uid, hotkey, coldkey, stake=stake)
        self._axon_ip[uid], self._axon_port[uid] = axon_ip, axon_port
        return uid

    def register_many(
        self,
        hotkeys: Sequence[str],
        coldkeys: Sequence[str],
        stakes: Sequence[float] | None = None,
    ) -> list[int]:
        """Register many hotkeys at the current block; returns their UIDs in order."""
        if len(hotkeys) != len(coldkeys) or (stakes is not None and len(stakes) != len(hotkeys)):
            raise ValueError("hotkeys, coldkeys and stakes must have the same length")
        if len(set(hotkeys)) != len(hotkeys) or any(h in self._uid_of for h in hotkeys):
            raise ValueError("hotkeys must be unique and not yet registered")
        stake_arr = np.zeros(len(hotkeys)) if stakes is None else np.asarray(stakes, float)
        if np.any(stake_arr < 0):
            raise ValueError("stake must be non-negative")
        free = min(len(hotkeys), self.max_uids - self._n)
        start = self._n
        uids = list(range(start, start + free))
        self._hotkeys.extend(hotkeys[:free])
        self._coldkeys.extend(coldkeys[:free])
        self._axon_ip.extend(["0.0.0.0"] * free)
        self._axon_port.extend([0] * free)
        self._uid_of.update(zip(hotkeys[:free], uids, strict=True))
        self._n += free
        sl = slice(start, start + free)
        self._fresh_neuron(sl, stake_arr[:free])
        for h, c, s in zip(hotkeys[free:], coldkeys[free:], stake_arr[free:], strict=True):
            uids.append(self.register(h, c, float(s)))
        return uids

    def replace_hotkey(
        self, uid: int, new_hotkey: str, new_coldkey: str, *, stake: float = 0.0
    ) -> None:
        """Deregister UID `uid`'s hotkey and register `new_hotkey` on it at the current block.

        As subtensor's `clear_neuron`: the UID's own weights and bonds row are removed, every
        weight set on it is zeroed, its permit and outputs are cleared. The next epoch also
        resets its bond column and masks weights set before this block (e.g. a commit that
        reveals later). As on chain, the column is reset only for a registration after the
        last epoch's block (`block_at_registration > last_epoch_block`).
        """
        self._check_uid(uid)
        if uid == self._owner_uid:
            raise ValueError("the subnet owner's UID cannot be replaced")
        if new_hotkey in self._uid_of:
            raise ValueError(f"hotkey {new_hotkey!r} is already registered")
        del self._uid_of[self._hotkeys[uid]]
        self._hotkeys[uid] = new_hotkey
        self._coldkeys[uid] = new_coldkey
        self._uid_of[new_hotkey] = uid
        self._peers.pop(uid, None)
        self._weights[:, uid] = 0
        self._quality[uid] = 0.0
        self._fresh_neuron(uid, stake)

    def set_stake(self, key: str | int, stake: float) -> None:
        """Set the stake of a hotkey (or UID)."""
        uid = self._resolve(key)
        if stake < 0:
            raise ValueError("stake must be non-negative")
        self._stake[uid] = stake

    def serve_axon(self, key: str | int, ip: str, port: int) -> None:
        """Set the axon address a UID advertises."""
        uid = self._resolve(key)
        self._axon_ip[uid], self._axon_port[uid] = ip, port

    def set_hyperparameters(self, **changes: Any) -> SubnetHyperparameters:
        """Change subnet hyperparameters (fields of `SubnetHyperparameters`)."""
        self._hp = dataclasses.replace(self._hp, **changes)
        return self._hp

    def set_miner_quality(self, quality: Sequence[float] | FloatArray) -> None:
        """Set the miners' true quality (index = UID) that honest peers observe with noise."""
        q = np.asarray(quality, dtype=np.float64)
        if q.ndim != 1 or q.size > self.max_uids:
            raise ValueError(f"quality must be a vector of at most {self.max_uids} values")
        if not np.all(np.isfinite(q)):
            raise ValueError("quality must be finite")
        self._quality[:] = 0.0
        self._quality[: q.size] = q

    def add_peer(
        self,
        kind: PeerKind | str,
        hotkey: str,
        stake: float,
        *,
        coldkey: str | None = None,
        interval: int | None = None,
        noise: float = 0.1,
        targets: Sequence[int] = (),
        version_key: int | None = None,
    ) -> int:
        """Register a simulated validator that sets weights by itself; returns its UID.

        `kind`: honest, copier, stale or self_dealer (see `PeerKind`). It submits every
        `interval` blocks (default `max(weights_rate_limit, tempo // 2)`) at an offset drawn
        from the seed; a self-dealer with no `targets` weights the UIDs sharing its coldkey.
        """
        k = PeerKind(kind)
        uid = self.register(hotkey, coldkey if coldkey is not None else f"{hotkey}-coldkey", stake)
        every = (
            interval
            if interval is not None
            else max(self._hp.weights_rate_limit, self._hp.tempo // 2, 1)
        )
        if every < 1:
            raise ValueError("interval must be positive")
        offset = int(peer_rng(self.seed, uid, -1).integers(0, every))
        self._peers[uid] = Peer(
            uid=uid,
            hotkey=hotkey,
            kind=k,
            interval=every,
            offset=offset,
            noise=noise,
            targets=tuple(int(t) for t in targets),
            version_key=self._hp.weights_version_key if version_key is None else version_key,
        )
        return uid

    def refresh_permits(self) -> None:
        """Grant permits now by the epoch's rule (top `max_allowed_validators` by stake)."""
        p = self.yuma_params
        s = normalize_stake(self._stake[: self._n], p.stake_threshold, p.owner_uid)
        self._permit[: self._n] = new_permits(s, p.max_allowed_validators, p.owner_uid)

    def inject_rejections(self, k: int, error: ChainError) -> None:
        """The next `k` `set_weights` calls are rejected with `error` (nothing is stored)."""
        self._faults.extend(_Fault("reject", error) for _ in range(k))

    def inject_timeouts(self, k: int, *, lands: bool = False) -> None:
        """The next `k` `set_weights` calls time out; with `lands` the weights still apply."""
        self._faults.extend(_Fault("timeout", ChainError.TIMEOUT, lands) for _ in range(k))

    # ---------------------------------------------------------------- blocks

    def advance(self, blocks: int) -> list[int]:
        """Produce `blocks` blocks; returns the blocks at which an epoch ran.

        Per block: the epoch runs first when due (with commit-reveal reveals before it),
        then the peers that are due submit. Quiet stretches are skipped in one step.
        """
        if blocks < 0:
            raise ValueError("blocks must be non-negative")
        target = self._height + blocks
        epochs: list[int] = []
        while self._height < target:
            nxt = min(target, self._last_epoch_block + max(1, self._hp.tempo))
            if self._peers:
                nxt = min(nxt, *(p.next_action(self._height) for p in self._peers.values()))
            nxt = max(nxt, self._height + 1)
            self._height = nxt
            if self._run_epoch_if_due(nxt):
                epochs.append(nxt)
            for uid in sorted(self._peers):
                peer = self._peers[uid]
                if peer.acts_at(nxt):
                    self._peer_act(peer, nxt)
        self._prune_journal()
        return epochs

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with blocks of new hashes and no extrinsics.

        Weights and commits included in those blocks are undone; epochs that ran in them
        are recomputed at the same heights (reveals included). Peers do not resubmit.
        """
        if depth <= 0:
            return
        if depth > min(self._height, self.max_reorg_depth):
            raise ValueError(
                f"reorg depth {depth} exceeds the height or max_reorg_depth "
                f"({self._height}, {self.max_reorg_depth})"
            )
        start = self._height - depth + 1
        for b in range(self._height, start - 1, -1):
            for undo in reversed(self._journal.pop(b, [])):
                undo()
        for b in range(start, self._height + 1):
            self._forks[b] = self._forks.get(b, 0) + 1
            self._run_epoch_if_due(b)
        logger.info("reorg: replaced blocks %d..%d", start, self._height)

    def _hash(self, height: int) -> str:
        fork = self._forks.get(height, 0)
        digest = hashlib.sha256(f"{self.seed}:{self.netuid}:{height}:{fork}".encode())
        return "0x" + digest.hexdigest()

    def _record(self, block: int, undo: Callable[[], None]) -> None:
        self._journal.setdefault(block, []).append(undo)

    def _prune_journal(self) -> None:
        floor = self._height - self.max_reorg_depth
        for b in [b for b in self._journal if b <= floor]:
            del self._journal[b]

    # ---------------------------------------------------------------- epoch

    def _run_epoch_if_due(self, block: int) -> bool:
        if block - self._last_epoch_block < max(1, self._hp.tempo):
            return False
        self._run_epoch(block)
        return True

    def _run_epoch(self, block: int) -> None:
        n = self._n
        saved_n = n
        saved = {
            "permit": self._permit[:n].copy(),
            "active": self._active[:n].copy(),
            "bonds": self._bonds[:n, :n].copy(),
            **{k: v[:n].copy() for k, v in self._out.items()},
        }
        saved_scalars = (
            self._last_epoch_block,
            self._epoch_count,
            self._last_consensus,
            self._last_epoch,
        )

        def undo() -> None:
            m = saved_n
            self._permit[:m] = saved["permit"]
            self._active[:m] = saved["active"]
            self._bonds[:m, :m] = saved["bonds"]
            for k, v in self._out.items():
                v[:m] = saved[k]
            (
                self._last_epoch_block,
                self._epoch_count,
                self._last_consensus,
                self._last_epoch,
            ) = saved_scalars

        self._record(block, undo)
        new_index = self._epoch_count + 1
        for c in self._commits:
            if c.status == "pending" and c.reveal_epoch <= new_index:
                self._reveal(c, block)

        hp = self._hp
        liveness = Liveness(
            current_block=block,
            last_update=self._last_update[:n],
            block_at_registration=self._registered_at[:n],
            activity_cutoff=hp.activity_cutoff,
            last_epoch_block=self._last_epoch_block,
            tempo=hp.tempo,
        )
        res = epoch(
            self._stake[:n],
            self._weights[:n, :n].astype(np.float64),
            self._permit[:n],
            self._bonds[:n, :n],
            self.yuma_params,
            liveness,
        )
        self._permit[:n] = res.new_validator_permit
        self._active[:n] = ~res.inactive
        self._bonds[:n, :n] = res.bonds
        self._out["consensus"][:n] = storage.as_stored_fraction(res.consensus)
        self._out["incentive"][:n] = storage.as_stored_fraction(res.incentive)
        self._out["dividends"][:n] = storage.as_stored_fraction(res.dividends)
        self._out["validator_trust"][:n] = storage.as_stored_fraction(res.validator_trust)
        total = hp.tempo * self.emission_per_block
        self._out["emission"][:n] = (
            res.server_emission_share + res.validator_emission_share
        ) * total
        self._last_consensus = res.consensus.copy()
        self._last_epoch = res
        self._last_epoch_block = block
        self._epoch_count = new_index
        logger.debug("epoch %d at block %d over %d UIDs", new_index, block, n)

    # ---------------------------------------------------------------- weights

    def _check_malformed(self, uids: Sequence[int], values: Sequence[int]) -> _Rejection | None:
        if len(uids) != len(values):
            return ChainError.WEIGHT_VEC_LENGTH_MISMATCH, "uids and weights differ in length"
        if any(not 0 <= int(v) <= storage.U16_MAX for v in values):
            return ChainError.OTHER, "weights must be u16 integers in [0, 65535]"
        return None

    def _check_weights(
        self,
        uid: int,
        uids: IntArray,
        values: IntArray,
        version_key: int,
        block: int,
        *,
        rate_limit: bool,
        contents: bool,
    ) -> _Rejection | None:
        """The chain's checks after registration, in the order of spec/chain.md."""
        hp = self._hp
        if not self._permit[uid]:
            return ChainError.NO_VALIDATOR_PERMIT, f"UID {uid} has no validator permit"
        if contents and version_key < hp.weights_version_key:
            return (
                ChainError.INCORRECT_VERSION_KEY,
                f"version key {version_key} < {hp.weights_version_key}",
            )
        last = int(self._last_update[uid])
        # A last_update of 0 means "never set": the chain exempts it from the rate limit.
        if rate_limit and last != 0 and block - last < hp.weights_rate_limit:
            return (
                ChainError.RATE_LIMIT,
                f"last update at {last}, block {block}, rate limit {hp.weights_rate_limit}",
            )
        if not contents:
            return None
        if uids.size and (uids.min() < 0 or uids.max() >= self._n):
            return ChainError.INVALID_UID, f"uids must be in [0, {self._n})"
        if np.unique(uids).size != uids.size:
            return ChainError.DUPLICATE_UIDS, "uids contain duplicates"
        self_only = uids.size == 1 and int(uids[0]) == uid
        need = min(hp.min_allowed_weights, self._n)
        if not self_only and uids.size < need:
            return ChainError.TOO_FEW_WEIGHTS, f"{uids.size} weights < {need} required"
        limit = storage.limit_to_u16(hp.max_weight_limit)
        if not self_only and not storage.max_weight_ok(storage.max_upscale_u16(values), limit):
            return ChainError.MAX_WEIGHT_EXCEEDED, f"largest weight share exceeds {limit}/65535"
        return None

    def _store_row(self, uid: int, uids: IntArray, values: IntArray, block: int) -> None:
        prev_row = self._weights[uid].copy()

        def undo() -> None:
            self._weights[uid] = prev_row

        self._record(block, undo)
        self._weights[uid] = 0
        self._weights[uid, uids] = storage.max_upscale_u16(values).astype(np.uint16)

    def _touch(self, uid: int, block: int) -> None:
        prev = int(self._last_update[uid])

        def undo() -> None:
            self._last_update[uid] = prev

        self._record(block, undo)
        self._last_update[uid] = block

    def _submit(
        self, hotkey: str, uids: Sequence[int], values: Sequence[int], version_key: int, block: int
    ) -> SubmissionReceipt:
        """Apply one weights extrinsic included in `block` (plain, or a commit under CR)."""
        uids_t = tuple(int(u) for u in uids)
        vals_t = tuple(int(v) for v in values)

        def receipt(status: SubmissionStatus, **kw: Any) -> SubmissionReceipt:
            return SubmissionReceipt(
                status, netuid=self.netuid, hotkey=hotkey, uids=uids_t, weights_u16=vals_t, **kw
            )

        bad = self._check_malformed(uids, values)
        uid = self._uid_of.get(hotkey)
        if bad is None and uid is None:
            bad = ChainError.HOTKEY_NOT_REGISTERED, f"{hotkey} is not registered"
        if bad is not None or uid is None:
            error, message = bad if bad is not None else (ChainError.OTHER, "")
            return receipt(SubmissionStatus.REJECTED, error=error, message=message)
        u = np.asarray(uids_t, dtype=np.int64)
        v = np.asarray(vals_t, dtype=np.int64)
        cr = self._hp.commit_reveal_enabled
        bad = self._check_weights(uid, u, v, version_key, block, rate_limit=True, contents=not cr)
        if bad is not None:
            return receipt(SubmissionStatus.REJECTED, error=bad[0], message=bad[1])
        self._touch(uid, block)
        if not cr:
            self._store_row(uid, u, v, block)
            return receipt(
                SubmissionStatus.INCLUDED, block_number=block, block_hash=self._hash(block)
            )
        commit = Commit(
            id=self._next_commit_id,
            uid=uid,
            hotkey=hotkey,
            uids=uids_t,
            weights_u16=vals_t,
            version_key=version_key,
            block=block,
            epoch=self._epoch_count,
            reveal_epoch=self._epoch_count + max(1, self._hp.reveal_period_epochs),
        )
        self._next_commit_id += 1
        self._commits.append(commit)

        def undo() -> None:
            self._commits.remove(commit)

        self._record(block, undo)
        epochs_ahead = commit.reveal_epoch - self._epoch_count
        return receipt(
            SubmissionStatus.COMMITTED,
            block_number=block,
            block_hash=self._hash(block),
            reveal_epoch=commit.reveal_epoch,
            reveal_block=self._last_epoch_block + self._hp.tempo * epochs_ahead,
        )

    def _reveal(self, c: Commit, block: int) -> None:
        prev = (c.status, c.reason)

        def undo() -> None:
            c.status, c.reason = prev

        self._record(block, undo)
        uid = self._uid_of.get(c.hotkey)
        bad: _Rejection | None
        if uid is None or uid != c.uid:
            bad = ChainError.HOTKEY_NOT_REGISTERED, "hotkey deregistered before the reveal"
        else:
            u = np.asarray(c.uids, dtype=np.int64)
            v = np.asarray(c.weights_u16, dtype=np.int64)
            bad = self._check_weights(
                uid, u, v, c.version_key, block, rate_limit=False, contents=True
            )
        if bad is not None:
            c.status, c.reason = "failed", f"{bad[0].value}: {bad[1]}"
            logger.info("reveal of commit %d by %s failed: %s", c.id, c.hotkey, c.reason)
            return
        self._store_row(c.uid, u, v, block)
        c.status = "revealed"
        logger.debug("revealed commit %d by %s at block %d", c.id, c.hotkey, block)

    def _peer_act(self, peer: Peer, block: int) -> None:
        n = self._n
        targets = None
        if peer.kind is PeerKind.SELF_DEALER and not peer.targets:
            own = self._coldkeys[peer.uid]
            targets = np.asarray(
                [u for u in range(n) if self._coldkeys[u] == own and u != peer.uid], np.int64
            )
        w = peer_weights(
            peer,
            n,
            self._quality[:n],
            self._last_consensus,
            peer_rng(self.seed, peer.uid, block),
            targets,
        )
        if w is None:
            return
        uids, values = storage.encode_u16(w)
        receipt = self._submit(peer.hotkey, uids.tolist(), values.tolist(), peer.version_key, block)
        if receipt.ok:
            peer.submissions += 1
            prev = peer.submissions - 1

            def undo() -> None:
                peer.submissions = prev

            self._record(block, undo)
        else:
            logger.debug("peer %s rejected: %s", peer.hotkey, receipt.message)

    # ---------------------------------------------------------------- Chain protocol

    async def current_block(self) -> int:
        """Height of the best block."""
        return self._height

    async def block_hash(self, height: int) -> str | None:
        """Hash of the block at `height` on the best chain (None above the head)."""
        if height < 0 or height > self._height:
            return None
        return self._hash(height)

    async def neurons(self, netuid: int) -> list[NeuronInfo]:
        """The metagraph in UID order (outputs as stored: u16 fractions)."""
        if netuid != self.netuid:
            return []
        out = {k: v[: self._n].tolist() for k, v in self._out.items()}
        stake = self._stake[: self._n].tolist()
        permit = self._permit[: self._n].tolist()
        active = self._active[: self._n].tolist()
        lu = self._last_update[: self._n].tolist()
        bar = self._registered_at[: self._n].tolist()
        return [
            NeuronInfo(
                uid=uid,
                hotkey=self._hotkeys[uid],
                coldkey=self._coldkeys[uid],
                stake=stake[uid],
                validator_permit=bool(permit[uid]),
                active=bool(active[uid]),
                last_update=int(lu[uid]),
                block_at_registration=int(bar[uid]),
                incentive=out["incentive"][uid],
                consensus=out["consensus"][uid],
                validator_trust=out["validator_trust"][uid],
                dividends=out["dividends"][uid],
                emission=out["emission"][uid],
                axon_ip=self._axon_ip[uid],
                axon_port=self._axon_port[uid],
            )
            for uid in range(self._n)
        ]

    async def hyperparameters(self, netuid: int) -> SubnetHyperparameters:
        """The subnet's weight-setting hyperparameters."""
        self._check_netuid(netuid)
        return self._hp

    async def set_weights(
        self,
        hotkey: str,
        netuid: int,
        uids: list[int],
        weights_u16: list[int],
        version_key: int,
    ) -> SubmissionReceipt:
        """Submit u16 weights; the extrinsic goes into the next block, which is produced now.

        Under commit-reveal the weights are committed (status COMMITTED, `reveal_epoch`);
        they apply at the start of that epoch if they pass the checks then. Rejections carry
        the chain's named error; injected faults take precedence over everything.
        """
        block = self._height + 1
        self.advance(1)
        if netuid != self.netuid:
            return SubmissionReceipt(
                SubmissionStatus.REJECTED,
                ChainError.SUBNET_NOT_EXISTS,
                f"subnet {netuid} does not exist",
                netuid=netuid,
                hotkey=hotkey,
                uids=tuple(uids),
                weights_u16=tuple(weights_u16),
            )
        if self._faults:
            fault = self._faults.pop(0)
            if fault.kind == "timeout":
                if fault.lands:
                    self._submit(hotkey, uids, weights_u16, version_key, block)
                status, message = SubmissionStatus.TIMEOUT, "no inclusion observed"
            else:
                status, message = SubmissionStatus.REJECTED, "injected rejection"
            return SubmissionReceipt(
                status,
                fault.error,
                message,
                netuid=netuid,
                hotkey=hotkey,
                uids=tuple(uids),
                weights_u16=tuple(weights_u16),
            )
        receipt = self._submit(hotkey, uids, weights_u16, version_key, block)
        if not receipt.ok:
            logger.info("set_weights by %s rejected: %s", hotkey, receipt.error)
        return receipt

    async def weights_of(self, netuid: int, validator_uid: int) -> dict[int, int]:
        """The u16 row the chain holds for `validator_uid` (non-zero entries)."""
        self._check_netuid(netuid)
        self._check_uid(validator_uid)
        row = self._weights[validator_uid, : self._n]
        nz = np.flatnonzero(row)
        return dict(zip(nz.tolist(), row[nz].tolist(), strict=True))

    async def last_epoch_block(self, netuid: int) -> int:
        """Block at which the last epoch ran (0 before the first)."""
        self._check_netuid(netuid)
        return self._last_epoch_block

    async def next_epoch_block(self, netuid: int) -> int:
        """`last_epoch_block + tempo`."""
        self._check_netuid(netuid)
        return self._last_epoch_block + self._hp.tempo

    async def is_revealed(self, receipt: SubmissionReceipt) -> bool:
        """Whether the receipt's weights are in force on the best chain.

        A commit: revealed and applied (a failed or orphaned commit is False). A plain
        submission: its block is still on the best chain.
        """
        if receipt.block_number is None or not receipt.ok:
            return False
        if receipt.block_hash != self._hash(receipt.block_number):
            return False
        if receipt.status is SubmissionStatus.INCLUDED:
            return receipt.block_number <= self._height
        return any(
            c.hotkey == receipt.hotkey
            and c.block == receipt.block_number
            and c.status == "revealed"
            for c in self._commits
        )

    # ---------------------------------------------------------------- snapshot

    def to_json(self) -> str:
        """The whole chain as JSON (reorg history excluded: a restored chain starts fresh)."""
        n = self._n
        w = self._weights[:n, :n]
        wij = np.argwhere(w)
        b = self._bonds[:n, :n]
        bij = np.argwhere(b)
        doc: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "config": {
                "netuid": self.netuid,
                "max_uids": self.max_uids,
                "seed": self.seed,
                "genesis_time": self.clock.genesis.isoformat(),
                "emission_per_block": self.emission_per_block,
                "immunity_period": self.immunity_period,
                "max_reorg_depth": self.max_reorg_depth,
                "hyperparameters": dataclasses.asdict(self._hp),
                "yuma": dataclasses.asdict(self._yuma),
            },
            "height": self._height,
            "last_epoch_block": self._last_epoch_block,
            "epoch_count": self._epoch_count,
            "owner_uid": self._owner_uid,
            "forks": {str(k): v for k, v in sorted(self._forks.items())},
            "neurons": {
                "hotkey": self._hotkeys,
                "coldkey": self._coldkeys,
                "axon_ip": self._axon_ip,
                "axon_port": self._axon_port,
                "stake": self._stake[:n].tolist(),
                "validator_permit": self._permit[:n].tolist(),
                "active": self._active[:n].tolist(),
                "last_update": self._last_update[:n].tolist(),
                "block_at_registration": self._registered_at[:n].tolist(),
                "quality": self._quality[:n].tolist(),
                **{k: v[:n].tolist() for k, v in self._out.items()},
            },
            "weights": [[int(i), int(j), int(w[i, j])] for i, j in wij],
            "bonds": [[int(i), int(j), float(b[i, j])] for i, j in bij],
            "commits": [c.to_json() for c in self._commits],
            "next_commit_id": self._next_commit_id,
            "peers": [p.to_json() for _, p in sorted(self._peers.items())],
            "faults": [
                {"kind": f.kind, "error": f.error.value if f.error else None, "lands": f.lands}
                for f in self._faults
            ],
            "last_consensus": None
            if self._last_consensus is None
            else self._last_consensus.tolist(),
        }
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LocalChain:
        """Restore a chain saved by `to_json`."""
        doc = json.loads(text)
        if doc.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
        cfg = doc["config"]
        chain = cls(
            netuid=cfg["netuid"],
            max_uids=cfg["max_uids"],
            hyperparameters=SubnetHyperparameters(**cfg["hyperparameters"]),
            yuma=YumaParams(**cfg["yuma"]),
            seed=cfg["seed"],
            genesis_time=datetime.fromisoformat(cfg["genesis_time"]),
            emission_per_block=cfg["emission_per_block"],
            immunity_period=cfg["immunity_period"],
            max_reorg_depth=cfg["max_reorg_depth"],
            owner_hotkey=None,
        )
        nd = doc["neurons"]
        n = len(nd["hotkey"])
        chain._n = n
        chain._hotkeys = list(nd["hotkey"])
        chain._coldkeys = list(nd["coldkey"])
        chain._axon_ip = list(nd["axon_ip"])
        chain._axon_port = [int(p) for p in nd["axon_port"]]
        chain._uid_of = {h: i for i, h in enumerate(chain._hotkeys)}
        chain._stake[:n] = nd["stake"]
        chain._permit[:n] = nd["validator_permit"]
        chain._active[:n] = nd["active"]
        chain._last_update[:n] = nd["last_update"]
        chain._registered_at[:n] = nd["block_at_registration"]
        chain._quality[:n] = nd["quality"]
        for k, v in chain._out.items():
            v[:n] = nd[k]
        if doc["weights"]:
            w = np.asarray(doc["weights"], dtype=np.int64)
            chain._weights[w[:, 0], w[:, 1]] = w[:, 2].astype(np.uint16)
        if doc["bonds"]:
            b = np.asarray(doc["bonds"], dtype=np.float64)
            chain._bonds[b[:, 0].astype(np.int64), b[:, 1].astype(np.int64)] = b[:, 2]
        chain._height = int(doc["height"])
        chain._last_epoch_block = int(doc["last_epoch_block"])
        chain._epoch_count = int(doc["epoch_count"])
        chain._owner_uid = doc["owner_uid"]
        chain._forks = {int(k): int(v) for k, v in doc["forks"].items()}
        chain._commits = [Commit.from_json(c) for c in doc["commits"]]
        chain._next_commit_id = int(doc["next_commit_id"])
        chain._peers = {p.uid: p for p in (Peer.from_json(d) for d in doc["peers"])}
        chain._faults = [
            _Fault(f["kind"], ChainError(f["error"]) if f["error"] else None, f["lands"])
            for f in doc["faults"]
        ]
        lc = doc["last_consensus"]
        chain._last_consensus = None if lc is None else np.asarray(lc, dtype=np.float64)
        return chain

    # ---------------------------------------------------------------- helpers

    def _fresh_neuron(self, uid: int | slice, stake: float | FloatArray) -> None:
        self._stake[uid] = stake
        self._permit[uid] = False
        self._active[uid] = True
        self._last_update[uid] = 0
        self._registered_at[uid] = self._height
        for v in self._out.values():
            v[uid] = 0.0
        self._weights[uid] = 0
        self._bonds[uid] = 0.0

    def _prune_candidate(self) -> int:
        n = self._n
        uids = np.arange(n)
        eligible = uids != (self._owner_uid if self._owner_uid is not None else -1)
        immune = self._height - self._registered_at[:n] < self.immunity_period
        pool = eligible & ~immune
        if not pool.any():
            pool = eligible
        if not pool.any():
            raise ValueError("no UID can be pruned")
        cand = uids[pool]
        order = np.lexsort((cand, self._registered_at[cand], self._out["emission"][cand]))
        return int(cand[order[0]])

    def _resolve(self, key: str | int) -> int:
        if isinstance(key, str):
            uid = self._uid_of.get(key)
            if uid is None:
                raise KeyError(f"hotkey {key!r} is not registered")
            return uid
        self._check_uid(key)
        return key

    def _check_uid(self, uid: int) -> None:
        if not 0 <= uid < self._n:
            raise IndexError(f"UID {uid} is not registered (n = {self._n})")

    def _check_netuid(self, netuid: int) -> None:
        if netuid != self.netuid:
            raise ValueError(f"subnet {netuid} does not exist (this chain is {self.netuid})")
