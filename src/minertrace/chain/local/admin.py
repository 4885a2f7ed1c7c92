"""Administrative calls of a `LocalChain`: they act at once, like sudo calls.

Registration, hotkey replacement, stake, axons, hyperparameters, miner quality, simulated
peer validators, permits and fault injection. A reorg does not undo them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from minertrace.chain.local.base import ChainBase, FloatArray
from minertrace.chain.local.faults import Fault
from minertrace.chain.local.peers import Peer, PeerKind, peer_rng
from minertrace.chain.types import ChainError, SubnetHyperparameters
from minertrace.chain.yuma import new_permits, normalize_stake


class Administration(ChainBase):
    """The administrative calls (see `LocalChain`)."""

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
        t = self._neurons
        if hotkey in t.uid_of:
            raise ValueError(f"hotkey {hotkey!r} is already registered")
        if stake < 0:
            raise ValueError("stake must be non-negative")
        if t.free:
            stakes = np.asarray([stake], dtype=np.float64)
            (uid,) = t.append(
                [hotkey], [coldkey], stakes, self.height, axon_ip=axon_ip, axon_port=axon_port
            )
            return uid
        uid = t.prune_candidate(self._owner_uid, self.height, self.immunity_period)
        self.replace_hotkey(uid, hotkey, coldkey, stake=stake)
        t.axon_ip[uid], t.axon_port[uid] = axon_ip, axon_port
        return uid

    def register_many(
        self,
        hotkeys: Sequence[str],
        coldkeys: Sequence[str],
        stakes: Sequence[float] | None = None,
    ) -> list[int]:
        """Register many hotkeys at the current block; returns their UIDs in order."""
        t = self._neurons
        if len(hotkeys) != len(coldkeys) or (stakes is not None and len(stakes) != len(hotkeys)):
            raise ValueError("hotkeys, coldkeys and stakes must have the same length")
        if len(set(hotkeys)) != len(hotkeys) or any(h in t.uid_of for h in hotkeys):
            raise ValueError("hotkeys must be unique and not yet registered")
        stake_arr = np.zeros(len(hotkeys)) if stakes is None else np.asarray(stakes, float)
        if np.any(stake_arr < 0):
            raise ValueError("stake must be non-negative")
        free = min(len(hotkeys), t.free)
        uids = t.append(hotkeys[:free], coldkeys[:free], stake_arr[:free], self.height)
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
        t = self._neurons
        t.check_uid(uid)
        if uid == self._owner_uid:
            raise ValueError("the subnet owner's UID cannot be replaced")
        if new_hotkey in t.uid_of:
            raise ValueError(f"hotkey {new_hotkey!r} is already registered")
        self._peers.pop(uid, None)
        t.replace(uid, new_hotkey, new_coldkey, stake, self.height)

    def set_stake(self, key: str | int, stake: float) -> None:
        """Set the stake of a hotkey (or UID)."""
        uid = self._neurons.resolve(key)
        if stake < 0:
            raise ValueError("stake must be non-negative")
        self._neurons.stake[uid] = stake

    def serve_axon(self, key: str | int, ip: str, port: int) -> None:
        """Set the axon address a UID advertises."""
        t = self._neurons
        uid = t.resolve(key)
        t.axon_ip[uid], t.axon_port[uid] = ip, port

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
        self._neurons.quality[:] = 0.0
        self._neurons.quality[: q.size] = q

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
        t = self._neurons
        p = self.yuma_params
        s = normalize_stake(t.stake[: t.n], p.stake_threshold, p.owner_uid)
        t.permit[: t.n] = new_permits(s, p.max_allowed_validators, p.owner_uid)

    def inject_rejections(self, k: int, error: ChainError) -> None:
        """The next `k` `set_weights` calls are rejected with `error` (nothing is stored)."""
        self._faults.extend(Fault("reject", error) for _ in range(k))

    def inject_timeouts(self, k: int, *, lands: bool = False) -> None:
        """The next `k` `set_weights` calls time out; with `lands` the weights still apply."""
        self._faults.extend(Fault("timeout", ChainError.TIMEOUT, lands) for _ in range(k))


__all__ = ["Administration"]
