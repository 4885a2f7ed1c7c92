"""Commit-reveal bookkeeping of a `LocalChain`: the commits on the best chain and their ids.

Whether a commit's weights pass when revealed is the caller's business (the same checks as
a plain submission); this module keeps the list, hands out ids and answers lookups.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(slots=True)
class Commit:
    """A commit-reveal commit: weights that apply at the start of `reveal_epoch`."""

    id: int
    uid: int
    hotkey: str
    uids: tuple[int, ...]
    weights_u16: tuple[int, ...]
    version_key: int
    block: int
    epoch: int
    reveal_epoch: int
    status: str = "pending"
    """`pending`, `revealed` (weights applied) or `failed` (see `reason`)."""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["uids"] = list(self.uids)
        d["weights_u16"] = list(self.weights_u16)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Commit:
        """Inverse of `to_json`."""
        return cls(**{**d, "uids": tuple(d["uids"]), "weights_u16": tuple(d["weights_u16"])})


class CommitBook:
    """Commits in inclusion order, and the next commit id."""

    def __init__(self, commits: list[Commit] | None = None, next_id: int = 0) -> None:
        self.items: list[Commit] = [] if commits is None else commits
        self.next_id = next_id

    def add(
        self,
        *,
        uid: int,
        hotkey: str,
        uids: tuple[int, ...],
        weights_u16: tuple[int, ...],
        version_key: int,
        block: int,
        epoch: int,
        reveal_epoch: int,
    ) -> Commit:
        """Append a pending commit under the next id and return it."""
        commit = Commit(
            id=self.next_id,
            uid=uid,
            hotkey=hotkey,
            uids=uids,
            weights_u16=weights_u16,
            version_key=version_key,
            block=block,
            epoch=epoch,
            reveal_epoch=reveal_epoch,
        )
        self.next_id += 1
        self.items.append(commit)
        return commit

    def remove(self, commit: Commit) -> None:
        """Drop a commit whose block was reorged away.

        Its id is not handed out again, as ids only name commits, never count them.
        """
        self.items.remove(commit)

    def due(self, epoch_index: int) -> list[Commit]:
        """Pending commits that reveal at or before epoch `epoch_index`, oldest first."""
        return [c for c in self.items if c.status == "pending" and c.reveal_epoch <= epoch_index]

    def revealed(self, hotkey: str, block: int) -> bool:
        """Whether `hotkey`'s commit included in `block` was revealed and applied."""
        return any(
            c.hotkey == hotkey and c.block == block and c.status == "revealed" for c in self.items
        )

    def copies(self) -> list[Commit]:
        """The commits, oldest first, as copies the caller may change."""
        return [dataclasses.replace(c) for c in self.items]
