"""Simulated peer validators of a `LocalChain`: what each kind would submit.

Pure functions of the peer, the miners' true quality, the last consensus and a seeded
random generator, so a subnet run is reproducible from its seed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class PeerKind(str, enum.Enum):
    """How a peer validator chooses its weights."""

    HONEST = "honest"
    """A noisy view of the miners' true quality (multiplicative log-normal noise)."""
    COPIER = "copier"
    """Copies the consensus vector of the last epoch."""
    STALE = "stale"
    """Sets honest weights once and never updates them."""
    SELF_DEALER = "self_dealer"
    """Puts all its weight on its own `targets` (by default UIDs sharing its coldkey)."""


@dataclass(slots=True)
class Peer:
    """A peer validator: it acts every `interval` blocks, at blocks `offset (mod interval)`."""

    uid: int
    hotkey: str
    kind: PeerKind
    interval: int
    offset: int
    noise: float = 0.1
    targets: tuple[int, ...] = ()
    version_key: int = 0
    submissions: int = field(default=0)

    def acts_at(self, block: int) -> bool:
        """Whether the peer submits in `block`."""
        return block > 0 and (block - self.offset) % self.interval == 0

    def next_action(self, after: int) -> int:
        """First block strictly after `after` at which the peer acts."""
        b = after + 1
        return b + (self.offset - b) % self.interval

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "uid": self.uid,
            "hotkey": self.hotkey,
            "kind": self.kind.value,
            "interval": self.interval,
            "offset": self.offset,
            "noise": self.noise,
            "targets": list(self.targets),
            "version_key": self.version_key,
            "submissions": self.submissions,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Peer:
        """Inverse of `to_json`."""
        return cls(
            uid=int(d["uid"]),
            hotkey=str(d["hotkey"]),
            kind=PeerKind(d["kind"]),
            interval=int(d["interval"]),
            offset=int(d["offset"]),
            noise=float(d["noise"]),
            targets=tuple(int(t) for t in d["targets"]),
            version_key=int(d["version_key"]),
            submissions=int(d["submissions"]),
        )


def peer_rng(seed: int, uid: int, block: int) -> np.random.Generator:
    """The generator a peer uses in one block: independent of call order and history.

    `block = -1` is the peer's setup stream (its schedule offset).
    """
    return np.random.default_rng([abs(seed), uid, block + 1])


def peer_weights(
    peer: Peer,
    n: int,
    quality: FloatArray,
    last_consensus: FloatArray | None,
    rng: np.random.Generator,
    targets: npt.NDArray[np.int64] | None = None,
) -> FloatArray | None:
    """The float weights (length `n`) `peer` submits now, or None when it submits nothing.

    `targets` is where a self-dealer sends its weight (default: `peer.targets`).
    """
    if peer.kind is PeerKind.STALE and peer.submissions > 0:
        return None
    w = np.zeros(n, dtype=np.float64)
    if peer.kind in (PeerKind.HONEST, PeerKind.STALE):
        q = np.zeros(n, dtype=np.float64)
        m = min(n, quality.size)
        q[:m] = np.clip(quality[:m], 0.0, None)
        w = q * np.exp(peer.noise * rng.standard_normal(n))
    elif peer.kind is PeerKind.COPIER:
        if last_consensus is None:
            return None
        m = min(n, last_consensus.size)
        w[:m] = last_consensus[:m]
    else:
        chosen = np.asarray(peer.targets if targets is None else targets, dtype=np.int64)
        w[chosen[(chosen >= 0) & (chosen < n)]] = 1.0
    if 0 <= peer.uid < n:
        w[peer.uid] = 0.0
    if not np.any(w > 0.0):
        return None
    return w
