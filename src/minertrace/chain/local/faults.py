"""Fault injection for a `LocalChain`: queued outcomes for the next `set_weights` calls."""

from __future__ import annotations

import dataclasses
from typing import Any

from minertrace.chain.types import ChainError


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    """One injected outcome: `reject` (nothing stored) or `timeout` (stored if `lands`)."""

    kind: str
    error: ChainError | None = None
    lands: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "error": self.error.value if self.error else None,
            "lands": self.lands,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fault:
        """Inverse of `to_json`."""
        return cls(d["kind"], ChainError(d["error"]) if d["error"] else None, d["lands"])
