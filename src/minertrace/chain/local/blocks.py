"""Block production bookkeeping of a `LocalChain`: height, block hashes, undo journal, reorgs.

A block's hash is a function of (seed, netuid, height, fork count), so a reorg changes
the hashes of the blocks it replaces and nothing else. Every state change an extrinsic or
an epoch makes in a block registers an undo closure with `record`; a reorg runs them
newest first. Journals older than `max_reorg_depth` are dropped, as no reorg can reach them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Undo = Callable[[], None]


def next_stop(height: int, target: int, next_epoch: int, peer_actions: Iterable[int]) -> int:
    """The next block worth producing on the way to `target`.

    Blocks where no epoch is due and no peer acts change nothing but the height, so block
    production jumps over them; it always moves at least one block.
    """
    return max(min(target, next_epoch, *peer_actions), height + 1)


class BlockLog:
    """The best chain's height, fork counters and per-block undo journal."""

    def __init__(
        self,
        *,
        seed: int,
        netuid: int,
        max_reorg_depth: int,
        height: int = 0,
        forks: dict[int, int] | None = None,
    ) -> None:
        self.seed = seed
        self.netuid = netuid
        self.max_reorg_depth = max_reorg_depth
        self.height = height
        self.forks: dict[int, int] = {} if forks is None else forks
        self._journal: dict[int, list[Undo]] = {}

    def hash(self, height: int) -> str:
        """Hash of the block at `height` on the current fork."""
        fork = self.forks.get(height, 0)
        digest = hashlib.sha256(f"{self.seed}:{self.netuid}:{height}:{fork}".encode())
        return "0x" + digest.hexdigest()

    def record(self, block: int, undo: Undo) -> None:
        """Register `undo` to run if `block` is reorged away."""
        self._journal.setdefault(block, []).append(undo)

    def prune(self) -> None:
        """Forget undo closures of blocks deeper than `max_reorg_depth`."""
        floor = self.height - self.max_reorg_depth
        for b in [b for b in self._journal if b <= floor]:
            del self._journal[b]

    def replace_tail(self, depth: int) -> range:
        """Undo the last `depth` blocks' changes and give those heights new hashes.

        Returns the replaced heights, oldest first; the caller re-runs what is due in them.
        """
        if depth > min(self.height, self.max_reorg_depth):
            raise ValueError(
                f"reorg depth {depth} exceeds the height or max_reorg_depth "
                f"({self.height}, {self.max_reorg_depth})"
            )
        start = self.height - depth + 1
        for b in range(self.height, start - 1, -1):
            for undo in reversed(self._journal.pop(b, [])):
                undo()
        replaced = range(start, self.height + 1)
        for b in replaced:
            self.forks[b] = self.forks.get(b, 0) + 1
        return replaced
