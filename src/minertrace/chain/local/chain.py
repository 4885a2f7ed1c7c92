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

This module holds the constructor, blocks, epochs, extrinsics and the `Chain` protocol; the
parts live beside it: `base` (the state's declaration, read-only views, `to_json`), `admin`
(the administrative calls), `neurons` (per-UID state and registration), `checks` (the
`set_weights` checks), `commits` (commit-reveal bookkeeping), `blocks` (height, hashes, undo
journal), `epochs` (running Yuma), `faults` and `snapshot`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from minertrace.chain.local import epochs, snapshot
from minertrace.chain.local.admin import Administration
from minertrace.chain.local.blocks import BlockLog, next_stop
from minertrace.chain.local.checks import Rejection, check_malformed, check_weights
from minertrace.chain.local.commits import Commit, CommitBook
from minertrace.chain.local.epochs import EpochState
from minertrace.chain.local.faults import Fault
from minertrace.chain.local.neurons import NeuronTable
from minertrace.chain.local.peers import Peer, PeerKind, peer_rng, peer_weights
from minertrace.chain.local.simclock import SimClock
from minertrace.chain.local.snapshot import SNAPSHOT_FORMAT
from minertrace.chain.types import (
    ChainError,
    NeuronInfo,
    SubmissionReceipt,
    SubmissionStatus,
    SubnetHyperparameters,
)
from minertrace.chain.yuma import YumaParams
from minertrace.weights.submission import u16_encode

__all__ = ["DEFAULT_GENESIS", "SNAPSHOT_FORMAT", "Commit", "LocalChain"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_GENESIS = datetime(2025, 1, 1, tzinfo=timezone.utc)


class LocalChain(Administration):
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

        self._neurons = NeuronTable(max_uids)
        self._blocks = BlockLog(seed=seed, netuid=netuid, max_reorg_depth=max_reorg_depth)
        self._epochs = EpochState()
        self._commits = CommitBook()
        self._peers: dict[int, Peer] = {}
        self._faults: list[Fault] = []

        self._owner_uid: int | None = None
        if owner_hotkey is not None:
            self._owner_uid = self.register(owner_hotkey, owner_coldkey)
            self._neurons.permit[self._owner_uid] = True

    # ---------------------------------------------------------------- blocks

    def advance(self, blocks: int) -> list[int]:
        """Produce `blocks` blocks; returns the blocks at which an epoch ran.

        Per block: the epoch runs first when due (with commit-reveal reveals before it),
        then the peers that are due submit. Quiet stretches are skipped in one step.
        """
        if blocks < 0:
            raise ValueError("blocks must be non-negative")
        log = self._blocks
        target = log.height + blocks
        ran: list[int] = []
        while log.height < target:
            nxt = next_stop(
                log.height,
                target,
                self._epochs.next_block(self._hp.tempo),
                (p.next_action(log.height) for p in self._peers.values()),
            )
            log.height = nxt
            if self._run_epoch_if_due(nxt):
                ran.append(nxt)
            for uid in sorted(self._peers):
                peer = self._peers[uid]
                if peer.acts_at(nxt):
                    self._peer_act(peer, nxt)
        log.prune()
        return ran

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with blocks of new hashes and no extrinsics.

        Weights and commits included in those blocks are undone; epochs that ran in them
        are recomputed at the same heights (reveals included). Peers do not resubmit.
        """
        if depth <= 0:
            return
        replaced = self._blocks.replace_tail(depth)
        for b in replaced:
            self._run_epoch_if_due(b)
        logger.info("reorg: replaced blocks %d..%d", replaced.start, replaced.stop - 1)

    # ---------------------------------------------------------------- epoch

    def _run_epoch_if_due(self, block: int) -> bool:
        if not self._epochs.is_due(block, self._hp.tempo):
            return False
        # Saved before the reveals so the undo restores the state the epoch started from.
        self._blocks.record(block, epochs.checkpoint(self._neurons, self._epochs))
        for c in self._commits.due(self._epochs.count + 1):
            self._reveal(c, block)
        epochs.run(
            self._neurons, self._epochs, self._hp, self.yuma_params, block, self.emission_per_block
        )
        return True

    # ---------------------------------------------------------------- weights

    def _check(
        self,
        uid: int,
        uids: IntArray,
        values: IntArray,
        version_key: int,
        block: int,
        *,
        rate_limit: bool,
        contents: bool,
    ) -> Rejection | None:
        t = self._neurons
        return check_weights(
            self._hp,
            uid=uid,
            n=t.n,
            has_permit=bool(t.permit[uid]),
            last_update=int(t.last_update[uid]),
            uids=uids,
            values=values,
            version_key=version_key,
            block=block,
            rate_limit=rate_limit,
            contents=contents,
        )

    def _store_row(self, uid: int, uids: IntArray, values: IntArray, block: int) -> None:
        t = self._neurons
        prev_row = t.store_row(uid, uids, values)

        def undo() -> None:
            t.weights[uid] = prev_row

        self._blocks.record(block, undo)

    def _touch(self, uid: int, block: int) -> None:
        t = self._neurons
        prev = int(t.last_update[uid])

        def undo() -> None:
            t.last_update[uid] = prev

        self._blocks.record(block, undo)
        t.last_update[uid] = block

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

        bad = check_malformed(uids, values)
        uid = self._neurons.uid_of.get(hotkey)
        if bad is None and uid is None:
            bad = ChainError.HOTKEY_NOT_REGISTERED, f"{hotkey} is not registered"
        if bad is not None or uid is None:
            error, message = bad if bad is not None else (ChainError.OTHER, "")
            return receipt(SubmissionStatus.REJECTED, error=error, message=message)
        u = np.asarray(uids_t, dtype=np.int64)
        v = np.asarray(vals_t, dtype=np.int64)
        cr = self._hp.commit_reveal_enabled
        bad = self._check(uid, u, v, version_key, block, rate_limit=True, contents=not cr)
        if bad is not None:
            return receipt(SubmissionStatus.REJECTED, error=bad[0], message=bad[1])
        self._touch(uid, block)
        if not cr:
            self._store_row(uid, u, v, block)
            return receipt(
                SubmissionStatus.INCLUDED, block_number=block, block_hash=self._blocks.hash(block)
            )
        ep = self._epochs
        commit = self._commits.add(
            uid=uid,
            hotkey=hotkey,
            uids=uids_t,
            weights_u16=vals_t,
            version_key=version_key,
            block=block,
            epoch=ep.count,
            reveal_epoch=ep.count + max(1, self._hp.reveal_period_epochs),
        )
        book = self._commits

        def undo() -> None:
            book.remove(commit)

        self._blocks.record(block, undo)
        epochs_ahead = commit.reveal_epoch - ep.count
        return receipt(
            SubmissionStatus.COMMITTED,
            block_number=block,
            block_hash=self._blocks.hash(block),
            reveal_epoch=commit.reveal_epoch,
            reveal_block=ep.last_block + self._hp.tempo * epochs_ahead,
        )

    def _reveal(self, c: Commit, block: int) -> None:
        prev = (c.status, c.reason)

        def undo() -> None:
            c.status, c.reason = prev

        self._blocks.record(block, undo)
        uid = self._neurons.uid_of.get(c.hotkey)
        bad: Rejection | None
        if uid is None or uid != c.uid:
            bad = ChainError.HOTKEY_NOT_REGISTERED, "hotkey deregistered before the reveal"
        else:
            u = np.asarray(c.uids, dtype=np.int64)
            v = np.asarray(c.weights_u16, dtype=np.int64)
            bad = self._check(uid, u, v, c.version_key, block, rate_limit=False, contents=True)
        if bad is not None:
            c.status, c.reason = "failed", f"{bad[0].value}: {bad[1]}"
            logger.info("reveal of commit %d by %s failed: %s", c.id, c.hotkey, c.reason)
            return
        self._store_row(c.uid, u, v, block)
        c.status = "revealed"
        logger.debug("revealed commit %d by %s at block %d", c.id, c.hotkey, block)

    def _peer_act(self, peer: Peer, block: int) -> None:
        t = self._neurons
        targets = None
        if peer.kind is PeerKind.SELF_DEALER and not peer.targets:
            targets = t.coldkey_siblings(peer.uid)
        w = peer_weights(
            peer,
            t.n,
            t.quality[: t.n],
            self._epochs.last_consensus,
            peer_rng(self.seed, peer.uid, block),
            targets,
        )
        if w is None:
            return
        uids, values = u16_encode(np.arange(w.size), w)
        receipt = self._submit(peer.hotkey, uids.tolist(), values.tolist(), peer.version_key, block)
        if receipt.ok:
            peer.submissions += 1
            prev = peer.submissions - 1

            def undo() -> None:
                peer.submissions = prev

            self._blocks.record(block, undo)
        else:
            logger.debug("peer %s rejected: %s", peer.hotkey, receipt.message)

    # ---------------------------------------------------------------- Chain protocol

    async def current_block(self) -> int:
        """Height of the best block."""
        return self.height

    async def block_hash(self, height: int) -> str | None:
        """Hash of the block at `height` on the best chain (None above the head)."""
        if height < 0 or height > self.height:
            return None
        return self._blocks.hash(height)

    async def neurons(self, netuid: int) -> list[NeuronInfo]:
        """The metagraph in UID order (outputs as stored: u16 fractions)."""
        if netuid != self.netuid:
            return []
        return self._neurons.infos()

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
        block = self.height + 1
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
        self._neurons.check_uid(validator_uid)
        return self._neurons.weight_row(validator_uid)

    async def last_epoch_block(self, netuid: int) -> int:
        """Block at which the last epoch ran (0 before the first)."""
        self._check_netuid(netuid)
        return self._epochs.last_block

    async def next_epoch_block(self, netuid: int) -> int:
        """`last_epoch_block + tempo`."""
        self._check_netuid(netuid)
        return self._epochs.last_block + self._hp.tempo

    async def is_revealed(self, receipt: SubmissionReceipt) -> bool:
        """Whether the receipt's weights are in force on the best chain.

        A commit: revealed and applied (a failed or orphaned commit is False). A plain
        submission: its block is still on the best chain.
        """
        if receipt.block_number is None or not receipt.ok:
            return False
        if receipt.block_hash != self._blocks.hash(receipt.block_number):
            return False
        if receipt.status is SubmissionStatus.INCLUDED:
            return receipt.block_number <= self.height
        return self._commits.revealed(receipt.hotkey, receipt.block_number)

    # ---------------------------------------------------------------- snapshot

    @classmethod
    def from_json(cls, text: str) -> LocalChain:
        """Restore a chain saved by `to_json`."""
        config, state = snapshot.load(text)
        chain = cls(
            netuid=config.netuid,
            max_uids=config.max_uids,
            hyperparameters=config.hyperparameters,
            yuma=config.yuma,
            seed=config.seed,
            genesis_time=config.genesis_time,
            emission_per_block=config.emission_per_block,
            immunity_period=config.immunity_period,
            max_reorg_depth=config.max_reorg_depth,
            owner_hotkey=None,
        )
        chain._owner_uid = state.owner_uid
        chain._neurons = state.neurons
        chain._blocks = state.blocks
        chain._epochs = state.epochs
        chain._commits = state.commits
        chain._peers = state.peers
        chain._faults = state.faults
        return chain

    # ---------------------------------------------------------------- helpers

    def _check_netuid(self, netuid: int) -> None:
        if netuid != self.netuid:
            raise ValueError(f"subnet {netuid} does not exist (this chain is {self.netuid})")
