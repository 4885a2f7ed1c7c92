"""The state a `LocalChain` holds, declared once, and its read-only views.

`LocalChain` (in `chain.py`) assigns these attributes in its constructor; the
administration calls (`admin.py`) and the extrinsics and epochs (`chain.py`) act on them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from minertrace.chain.local.blocks import BlockLog
from minertrace.chain.local.commits import Commit, CommitBook
from minertrace.chain.local.epochs import EpochState
from minertrace.chain.local.faults import Fault
from minertrace.chain.local.neurons import NeuronTable
from minertrace.chain.local.peers import Peer
from minertrace.chain.local.simclock import SimClock
from minertrace.chain.local.snapshot import ChainConfig, ChainState, dump
from minertrace.chain.types import SubnetHyperparameters
from minertrace.chain.yuma import EpochResult, YumaParams

FloatArray = npt.NDArray[np.float64]


class ChainBase:
    """The subnet's state and the read-only views of it (see `LocalChain`)."""

    netuid: int
    max_uids: int
    seed: int
    emission_per_block: float
    immunity_period: int
    max_reorg_depth: int
    clock: SimClock
    _hp: SubnetHyperparameters
    _yuma: YumaParams
    _neurons: NeuronTable
    _blocks: BlockLog
    _epochs: EpochState
    _commits: CommitBook
    _peers: dict[int, Peer]
    _faults: list[Fault]
    _owner_uid: int | None

    @property
    def height(self) -> int:
        """Current best block."""
        return self._blocks.height

    @property
    def n(self) -> int:
        """Number of registered UIDs."""
        return self._neurons.n

    @property
    def epoch_index(self) -> int:
        """Number of epochs run so far (blocks after the k-th epoch are in epoch k)."""
        return self._epochs.count

    @property
    def owner_uid(self) -> int | None:
        """The subnet owner's UID."""
        return self._owner_uid

    @property
    def last_epoch(self) -> EpochResult | None:
        """Full float64 result of the last epoch run (not kept in snapshots)."""
        return self._epochs.last_result

    @property
    def commits(self) -> list[Commit]:
        """Commit-reveal commits on the best chain, oldest first (copies)."""
        return self._commits.copies()

    @property
    def yuma_params(self) -> YumaParams:
        """The Yuma parameters, with the owner UID filled in."""
        return dataclasses.replace(self._yuma, owner_uid=self._owner_uid)

    def uid_of(self, hotkey: str) -> int | None:
        """UID of a registered hotkey, or None."""
        return self._neurons.uid_of.get(hotkey)

    def weights_matrix(self) -> npt.NDArray[np.uint16]:
        """Copy of the n x n u16 weights the chain holds (row = setter)."""
        n = self._neurons.n
        out: npt.NDArray[np.uint16] = self._neurons.weights[:n, :n].copy()
        return out

    def bonds_matrix(self) -> FloatArray:
        """Copy of the n x n bonds carried into the next epoch."""
        n = self._neurons.n
        out: FloatArray = self._neurons.bonds[:n, :n].copy()
        return out

    def to_json(self) -> str:
        """The whole chain as JSON (reorg history excluded: a restored chain starts fresh)."""
        config = ChainConfig(
            netuid=self.netuid,
            max_uids=self.max_uids,
            seed=self.seed,
            genesis_time=self.clock.genesis,
            emission_per_block=self.emission_per_block,
            immunity_period=self.immunity_period,
            max_reorg_depth=self.max_reorg_depth,
            hyperparameters=self._hp,
            yuma=self._yuma,
        )
        state = ChainState(
            owner_uid=self._owner_uid,
            neurons=self._neurons,
            blocks=self._blocks,
            epochs=self._epochs,
            commits=self._commits,
            peers=self._peers,
            faults=self._faults,
        )
        return dump(config, state)


__all__ = ["ChainBase"]
