"""minertrace.chain: the `Chain` protocol and its data, Yuma Consensus, and the chains.

`yuma` is pure numpy consensus math; `local` is the in-process subnet (`LocalChain`);
`bittensor` is the real chain through the SDK (the `bittensor` extra, imported only there).
"""

from minertrace.chain.types import (
    Chain,
    ChainError,
    NeuronInfo,
    SubmissionReceipt,
    SubmissionStatus,
    SubnetHyperparameters,
)
from minertrace.chain.yuma import EpochResult, Liveness, YumaParams, epoch

__all__ = [
    "Chain",
    "ChainError",
    "EpochResult",
    "Liveness",
    "NeuronInfo",
    "SubmissionReceipt",
    "SubmissionStatus",
    "SubnetHyperparameters",
    "YumaParams",
    "epoch",
]
