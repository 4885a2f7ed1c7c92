"""Per-UID state of a `LocalChain` subnet: who holds each UID and what the chain keeps for it.

`NeuronTable` owns the fixed-capacity arrays (stake, permits, liveness, epoch outputs,
the u16 weights and the bonds) and the key lists, and does registration, hotkey
replacement and the choice of the UID to prune. It knows nothing of blocks, reorgs or
extrinsics: callers pass the current block and record their own undo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from minertrace.chain.local import storage
from minertrace.chain.types import NeuronInfo
from minertrace.chain.yuma import EpochResult

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

OUTPUT_FIELDS = ("consensus", "incentive", "dividends", "validator_trust", "emission")
"""Epoch outputs the chain stores per UID (the snapshot's key names)."""


@dataclasses.dataclass(frozen=True, slots=True)
class EpochFields:
    """The per-UID state an epoch overwrites, saved so a reorg can put it back."""

    n: int
    permit: BoolArray
    active: BoolArray
    bonds: FloatArray
    out: dict[str, FloatArray]


class NeuronTable:
    """UIDs `0 .. n-1` of one subnet, in arrays sized for `capacity` UIDs."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("max_uids must be positive")
        self.capacity = capacity
        self.n = 0
        self.hotkeys: list[str] = []
        self.coldkeys: list[str] = []
        self.uid_of: dict[str, int] = {}
        self.axon_ip: list[str] = []
        self.axon_port: list[int] = []
        self.stake = np.zeros(capacity, dtype=np.float64)
        self.permit = np.zeros(capacity, dtype=np.bool_)
        self.active = np.zeros(capacity, dtype=np.bool_)
        self.last_update = np.zeros(capacity, dtype=np.int64)
        self.registered_at = np.zeros(capacity, dtype=np.int64)
        self.out: dict[str, FloatArray] = {
            k: np.zeros(capacity, dtype=np.float64) for k in OUTPUT_FIELDS
        }
        self.quality = np.zeros(capacity, dtype=np.float64)
        self.weights = np.zeros((capacity, capacity), dtype=np.uint16)
        self.bonds = np.zeros((capacity, capacity), dtype=np.float64)
        # Coldkeys as small integer codes, so "UIDs sharing a coldkey" is one array compare.
        self._coldkey_code: dict[str, int] = {}
        self._coldkey_ids = np.zeros(capacity, dtype=np.int64)

    @property
    def free(self) -> int:
        """Number of UIDs not yet taken."""
        return self.capacity - self.n

    # ---------------------------------------------------------------- lookups

    def resolve(self, key: str | int) -> int:
        """UID of a registered hotkey, or the UID itself after a range check."""
        if isinstance(key, str):
            uid = self.uid_of.get(key)
            if uid is None:
                raise KeyError(f"hotkey {key!r} is not registered")
            return uid
        self.check_uid(key)
        return key

    def check_uid(self, uid: int) -> None:
        """Raise IndexError unless `uid` is registered."""
        if not 0 <= uid < self.n:
            raise IndexError(f"UID {uid} is not registered (n = {self.n})")

    def coldkey_siblings(self, uid: int) -> IntArray:
        """UIDs other than `uid` whose coldkey is `uid`'s, ascending."""
        ids = self._coldkey_ids[: self.n]
        same = ids == ids[uid]
        same[uid] = False
        return np.flatnonzero(same).astype(np.int64)

    def weight_row(self, uid: int) -> dict[int, int]:
        """Non-zero u16 weights UID `uid` holds on registered UIDs."""
        row = self.weights[uid, : self.n]
        nz = np.flatnonzero(row)
        return dict(zip(nz.tolist(), row[nz].tolist(), strict=True))

    def infos(self) -> list[NeuronInfo]:
        """The metagraph in UID order (outputs as stored: u16 fractions)."""
        n = self.n
        out = {k: v[:n].tolist() for k, v in self.out.items()}
        stake = self.stake[:n].tolist()
        permit = self.permit[:n].tolist()
        active = self.active[:n].tolist()
        lu = self.last_update[:n].tolist()
        bar = self.registered_at[:n].tolist()
        return [
            NeuronInfo(
                uid=uid,
                hotkey=self.hotkeys[uid],
                coldkey=self.coldkeys[uid],
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
                axon_ip=self.axon_ip[uid],
                axon_port=self.axon_port[uid],
            )
            for uid in range(n)
        ]

    # ---------------------------------------------------------------- registration

    def append(
        self,
        hotkeys: Sequence[str],
        coldkeys: Sequence[str],
        stakes: FloatArray,
        block: int,
        *,
        axon_ip: str = "0.0.0.0",
        axon_port: int = 0,
    ) -> list[int]:
        """Put new hotkeys on the next free UIDs at `block`; the caller checks room and keys."""
        k = len(hotkeys)
        if k > self.free:
            raise ValueError(f"only {self.free} UIDs are free")
        start = self.n
        uids = list(range(start, start + k))
        self.hotkeys.extend(hotkeys)
        self.coldkeys.extend(coldkeys)
        self.axon_ip.extend([axon_ip] * k)
        self.axon_port.extend([axon_port] * k)
        self.uid_of.update(zip(hotkeys, uids, strict=True))
        self._coldkey_ids[start : start + k] = [self._code(c) for c in coldkeys]
        self.n += k
        self.fresh(slice(start, start + k), stakes, block)
        return uids

    def replace(self, uid: int, hotkey: str, coldkey: str, stake: float, block: int) -> None:
        """Give UID `uid` to a new hotkey at `block`, clearing what subtensor's `clear_neuron` does.

        Its weights and bonds row go, every weight set on it is zeroed, its permit, outputs
        and quality are cleared.
        """
        del self.uid_of[self.hotkeys[uid]]
        self.hotkeys[uid] = hotkey
        self.coldkeys[uid] = coldkey
        self._coldkey_ids[uid] = self._code(coldkey)
        self.uid_of[hotkey] = uid
        self.weights[:, uid] = 0
        self.quality[uid] = 0.0
        self.fresh(uid, stake, block)

    def fresh(self, uid: int | slice, stake: float | FloatArray, block: int) -> None:
        """Reset UID(s) `uid` to a newly registered neuron at `block`."""
        self.stake[uid] = stake
        self.permit[uid] = False
        self.active[uid] = True
        self.last_update[uid] = 0
        self.registered_at[uid] = block
        for v in self.out.values():
            v[uid] = 0.0
        self.weights[uid] = 0
        self.bonds[uid] = 0.0

    def prune_candidate(self, owner_uid: int | None, height: int, immunity_period: int) -> int:
        """The UID a registration on a full subnet replaces.

        Lowest emission, then oldest registration, then lowest UID; outside the immunity
        period when any such UID exists; never the owner.
        """
        n = self.n
        uids = np.arange(n)
        eligible = uids != (owner_uid if owner_uid is not None else -1)
        immune = height - self.registered_at[:n] < immunity_period
        pool = eligible & ~immune
        if not pool.any():
            pool = eligible
        if not pool.any():
            raise ValueError("no UID can be pruned")
        cand = uids[pool]
        order = np.lexsort((cand, self.registered_at[cand], self.out["emission"][cand]))
        return int(cand[order[0]])

    def restore_keys(self, hotkeys: Sequence[str], coldkeys: Sequence[str]) -> None:
        """Set the key lists of a table being restored (UID i = position i); sets `n`."""
        if len(hotkeys) != len(coldkeys) or len(hotkeys) > self.capacity:
            raise ValueError("hotkeys and coldkeys must match in length and fit the table")
        self.n = len(hotkeys)
        self.hotkeys = list(hotkeys)
        self.coldkeys = list(coldkeys)
        self.uid_of = {h: i for i, h in enumerate(self.hotkeys)}
        self._coldkey_code = {}
        self._coldkey_ids[: self.n] = [self._code(c) for c in self.coldkeys]

    # ---------------------------------------------------------------- weights and epochs

    def store_row(self, uid: int, uids: IntArray, values: IntArray) -> npt.NDArray[np.uint16]:
        """Replace UID `uid`'s weights by `values` on `uids`, max-upscaled as the chain stores
        them; returns the previous row."""
        prev: npt.NDArray[np.uint16] = self.weights[uid].copy()
        self.weights[uid] = 0
        self.weights[uid, uids] = storage.max_upscale_u16(values).astype(np.uint16)
        return prev

    def save_epoch_fields(self) -> EpochFields:
        """Copy of what `apply_epoch` overwrites."""
        n = self.n
        return EpochFields(
            n=n,
            permit=self.permit[:n].copy(),
            active=self.active[:n].copy(),
            bonds=self.bonds[:n, :n].copy(),
            out={k: v[:n].copy() for k, v in self.out.items()},
        )

    def restore_epoch_fields(self, saved: EpochFields) -> None:
        """Put back what `save_epoch_fields` copied."""
        m = saved.n
        self.permit[:m] = saved.permit
        self.active[:m] = saved.active
        self.bonds[:m, :m] = saved.bonds
        for k, v in self.out.items():
            v[:m] = saved.out[k]

    def apply_epoch(self, res: EpochResult, emission: float) -> None:
        """Store an epoch's result: permits, liveness, bonds and the u16-rounded outputs.

        `emission` is the total the epoch distributes (tempo x emission per block).
        """
        n = self.n
        self.permit[:n] = res.new_validator_permit
        self.active[:n] = ~res.inactive
        self.bonds[:n, :n] = res.bonds
        self.out["consensus"][:n] = storage.as_stored_fraction(res.consensus)
        self.out["incentive"][:n] = storage.as_stored_fraction(res.incentive)
        self.out["dividends"][:n] = storage.as_stored_fraction(res.dividends)
        self.out["validator_trust"][:n] = storage.as_stored_fraction(res.validator_trust)
        self.out["emission"][:n] = (
            res.server_emission_share + res.validator_emission_share
        ) * emission

    def _code(self, coldkey: str) -> int:
        return self._coldkey_code.setdefault(coldkey, len(self._coldkey_code))
