"""Epochs of a `LocalChain`: when one is due, running Yuma Consensus over the neuron table,
and saving what it overwrites so a reorg can undo it.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import numpy.typing as npt

from minertrace.chain.local.blocks import Undo
from minertrace.chain.local.neurons import NeuronTable
from minertrace.chain.types import SubnetHyperparameters
from minertrace.chain.yuma import EpochResult, Liveness, YumaParams, epoch

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclasses.dataclass(slots=True)
class EpochState:
    """Where the epoch schedule stands and what the last epoch computed."""

    last_block: int = 0
    """Block at which the last epoch ran (0 before the first)."""
    count: int = 0
    """Epochs run so far."""
    last_consensus: FloatArray | None = None
    """Consensus of the last epoch (what copier peers submit); kept in snapshots."""
    last_result: EpochResult | None = None
    """Full float64 result of the last epoch; not kept in snapshots."""

    def next_block(self, tempo: int) -> int:
        """Block at which the next epoch is due."""
        return self.last_block + max(1, tempo)

    def is_due(self, block: int, tempo: int) -> bool:
        """Whether an epoch runs in `block`."""
        return block >= self.next_block(tempo)


def checkpoint(table: NeuronTable, state: EpochState) -> Undo:
    """An undo that puts `table`'s epoch outputs and `state` back as they are now."""
    saved = table.save_epoch_fields()
    saved_state = dataclasses.replace(state)

    def undo() -> None:
        table.restore_epoch_fields(saved)
        state.last_block = saved_state.last_block
        state.count = saved_state.count
        state.last_consensus = saved_state.last_consensus
        state.last_result = saved_state.last_result

    return undo


def run(
    table: NeuronTable,
    state: EpochState,
    hp: SubnetHyperparameters,
    params: YumaParams,
    block: int,
    emission_per_block: float,
) -> EpochResult:
    """Run the epoch of `block` over the weights the table holds and store its outputs."""
    n = table.n
    liveness = Liveness(
        current_block=block,
        last_update=table.last_update[:n],
        block_at_registration=table.registered_at[:n],
        activity_cutoff=hp.activity_cutoff,
        last_epoch_block=state.last_block,
        tempo=hp.tempo,
    )
    res = epoch(
        table.stake[:n],
        table.weights[:n, :n].astype(np.float64),
        table.permit[:n],
        table.bonds[:n, :n],
        params,
        liveness,
    )
    table.apply_epoch(res, hp.tempo * emission_per_block)
    state.last_consensus = res.consensus.copy()
    state.last_result = res
    state.last_block = block
    state.count += 1
    logger.debug("epoch %d at block %d over %d UIDs", state.count, block, n)
    return res
