"""The `Chain` protocol and the data classes it speaks in.

Both `LocalChain` (in-process subnet) and `BittensorChain` (the real chain through the
bittensor SDK) implement this protocol; the validator service only ever sees it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class NeuronInfo:
    """One UID of a subnet's metagraph, as the chain reports it.

    Float fields are fractions in [0, 1] (the chain stores them as u16 / 65535), except
    `stake` (in TAO/alpha units) and `emission`.
    """

    uid: int
    hotkey: str
    coldkey: str
    stake: float
    validator_permit: bool
    active: bool
    last_update: int
    block_at_registration: int
    incentive: float = 0.0
    consensus: float = 0.0
    validator_trust: float = 0.0
    dividends: float = 0.0
    emission: float = 0.0
    axon_ip: str = "0.0.0.0"
    axon_port: int = 0


@dataclass(frozen=True, slots=True)
class SubnetHyperparameters:
    """The subnet hyperparameters that weight setting depends on."""

    tempo: int = 360
    weights_rate_limit: int = 100
    max_weight_limit: float = 1.0
    """Largest share one UID may receive, as a fraction (the chain's u16 / 65535)."""
    min_allowed_weights: int = 1
    weights_version_key: int = 0
    commit_reveal_enabled: bool = False
    reveal_period_epochs: int = 1
    activity_cutoff: int = 5000


class SubmissionStatus(str, enum.Enum):
    """Outcome of one `set_weights` call."""

    INCLUDED = "included"
    """Weights were stored on chain in the block of the receipt."""
    COMMITTED = "committed"
    """Commit-reveal: the commit was included; the weights apply at `reveal_epoch`."""
    REJECTED = "rejected"
    """The chain (or the SDK's pre-checks) refused the extrinsic; `error` names why."""
    TIMEOUT = "timeout"
    """No inclusion was observed in time; the extrinsic may or may not land."""


class ChainError(str, enum.Enum):
    """Named rejections, in the order the chain checks them (spec/chain.md)."""

    HOTKEY_NOT_REGISTERED = "HotKeyNotRegisteredInSubNet"
    NO_VALIDATOR_PERMIT = "NeuronNoValidatorPermit"
    INCORRECT_VERSION_KEY = "IncorrectWeightVersionKey"
    RATE_LIMIT = "SettingWeightsTooFast"
    INVALID_UID = "UidVecContainInvalidOne"
    DUPLICATE_UIDS = "DuplicateUids"
    WEIGHT_VEC_LENGTH_MISMATCH = "WeightVecNotEqualSize"
    TOO_FEW_WEIGHTS = "WeightVecLengthIsLow"
    MAX_WEIGHT_EXCEEDED = "MaxWeightExceeded"
    COMMIT_REVEAL_ENABLED = "CommitRevealEnabled"
    COMMIT_REVEAL_DISABLED = "CommitRevealDisabled"
    NEGATIVE_WEIGHTS = "NegativeWeights"
    ALL_WEIGHTS_ZERO = "AllWeightsZero"
    TIMEOUT = "Timeout"
    SUBNET_NOT_EXISTS = "SubNetworkDoesNotExist"
    OTHER = "Other"


@dataclass(frozen=True, slots=True)
class SubmissionReceipt:
    """What the chain said about one weight submission."""

    status: SubmissionStatus
    error: ChainError | None = None
    message: str = ""
    block_number: int | None = None
    block_hash: str | None = None
    reveal_epoch: int | None = None
    """Under commit-reveal: the epoch index at whose start the weights are revealed."""
    reveal_block: int | None = None
    """Under commit-reveal: the first block of `reveal_epoch`, when known."""
    netuid: int = 0
    hotkey: str = ""
    uids: tuple[int, ...] = field(default_factory=tuple)
    weights_u16: tuple[int, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the extrinsic was included (plain or commit)."""
        return self.status in (SubmissionStatus.INCLUDED, SubmissionStatus.COMMITTED)


@runtime_checkable
class Chain(Protocol):
    """What minertrace needs from a chain. Every method is a coroutine."""

    async def current_block(self) -> int:
        """Height of the best block."""
        ...

    async def block_hash(self, height: int) -> str | None:
        """Hash of the block at `height` on the current best chain (None if unknown)."""
        ...

    async def neurons(self, netuid: int) -> list[NeuronInfo]:
        """The subnet's metagraph, one entry per registered UID, in UID order."""
        ...

    async def hyperparameters(self, netuid: int) -> SubnetHyperparameters:
        """The subnet's weight-setting hyperparameters."""
        ...

    async def set_weights(
        self,
        hotkey: str,
        netuid: int,
        uids: list[int],
        weights_u16: list[int],
        version_key: int,
    ) -> SubmissionReceipt:
        """Submit (or, under commit-reveal, commit) u16 weights for `hotkey`."""
        ...

    async def weights_of(self, netuid: int, validator_uid: int) -> dict[int, int]:
        """The u16 weight row the chain holds for `validator_uid`: {uid: u16}."""
        ...

    async def last_epoch_block(self, netuid: int) -> int:
        """Block at which the subnet's last epoch ran."""
        ...

    async def next_epoch_block(self, netuid: int) -> int:
        """Block at which the subnet's next epoch runs."""
        ...

    async def is_revealed(self, receipt: SubmissionReceipt) -> bool:
        """Under commit-reveal: whether the committed weights are now in force."""
        ...
