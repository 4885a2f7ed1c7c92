"""The chain state behind `FakeSubstrate`: a subnet's neurons, hyperparameters and weights."""

from __future__ import annotations

from dataclasses import dataclass, field

U16_MAX = 65535


@dataclass
class FakeNeuron:
    """One UID of the fake subnet, in the chain's raw units."""

    hotkey: str
    coldkey: str
    stake_rao: int = 0
    validator_permit: bool = False
    active: bool = True
    block_at_registration: int = 0
    incentive: int = 0
    consensus: int = 0
    trust: int = 0
    validator_trust: int = 0
    dividends: int = 0
    emission_rao: int = 0
    axon_ip: int = 0
    axon_port: int = 0
    axon_ip_type: int = 4


@dataclass
class FakeSubnet:
    """A subnet's hyperparameters, neurons and weight state."""

    netuid: int
    neurons: list[FakeNeuron] = field(default_factory=list)
    tempo: int = 360
    weights_rate_limit: int = 100
    max_weights_limit: int = U16_MAX
    min_allowed_weights: int = 1
    weights_version_key: int = 0
    commit_reveal: bool = False
    reveal_period_epochs: int = 1
    activity_cutoff: int = 5000
    last_epoch_block: int = 0
    epoch_index: int = 0
    last_update: list[int] = field(default_factory=list)
    weights: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    # epoch index at commit -> [(hotkey, commit_block, ciphertext, reveal_round)]
    commits: dict[int, list[tuple[str, int, bytes, int]]] = field(default_factory=dict)

    def uid_of(self, hotkey: str) -> int | None:
        for uid, neuron in enumerate(self.neurons):
            if neuron.hotkey == hotkey:
                return uid
        return None
