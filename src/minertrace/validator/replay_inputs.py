"""The replay inputs of a cycle as JSON (`weight_submissions.inputs`), and back. Pure.

A cycle's score rows are stored by reference (`score_rows`: task_name, task_id); everything
else the weight engine read is kept here, because node_table and the validator set change:

    {"version": 1, "now": ISO-8601, "n_uids": int,
     "nodes": {"uid": [...], "hotkey": [...], "coldkey": [...]},
     "active_validator_uids": [...], "max_weight_limit": float, "min_allowed_weights": int}

The node snapshot is columnar: three arrays instead of one object per UID keep a 4,096-UID
snapshot small and its encoding a single `tolist()` per column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minertrace.weights import CycleInputs, Node, NodeList

INPUTS_VERSION = 1


def inputs_json(inputs: CycleInputs) -> str:
    """`inputs` (minus the score rows) as the JSON text stored in `weight_submissions.inputs`."""
    nodes = inputs.node_list
    doc = {
        "version": INPUTS_VERSION,
        "now": inputs.now.isoformat(),
        "n_uids": inputs.uid_count,
        "nodes": {
            "uid": nodes.uids.tolist(),
            "hotkey": nodes.hotkeys,
            "coldkey": nodes.coldkeys,
        },
        "active_validator_uids": list(inputs.active_validator_uids),
        "max_weight_limit": float(inputs.max_weight_limit),
        "min_allowed_weights": int(inputs.min_allowed_weights),
    }
    return json.dumps(doc, allow_nan=False)


class InputsFormatError(ValueError):
    """A stored `inputs` document this version cannot read."""


@dataclass(frozen=True)
class StoredInputs:
    """The stored inputs of one cycle, parsed."""

    now: datetime
    n_uids: int
    nodes: NodeList
    active_validator_uids: tuple[int, ...]
    max_weight_limit: float
    min_allowed_weights: int


def parse_inputs(doc: dict[str, Any]) -> StoredInputs:
    """Parse a stored `inputs` document; raises `InputsFormatError` when it is not one."""
    if not isinstance(doc, dict) or doc.get("version") != INPUTS_VERSION:
        version = doc.get("version") if isinstance(doc, dict) else None
        raise InputsFormatError(f"unsupported replay inputs version {version!r}")
    try:
        cols = doc["nodes"]
        nodes = NodeList(
            tuple(
                Node(int(u), h, c)
                for u, h, c in zip(cols["uid"], cols["hotkey"], cols["coldkey"], strict=True)
            )
        )
        now = datetime.fromisoformat(doc["now"])
        if now.utcoffset() is None:
            raise InputsFormatError("replay inputs: 'now' has no UTC offset")
        return StoredInputs(
            now=now,
            n_uids=int(doc["n_uids"]),
            nodes=nodes,
            active_validator_uids=tuple(int(v) for v in doc["active_validator_uids"]),
            max_weight_limit=float(doc["max_weight_limit"]),
            min_allowed_weights=int(doc["min_allowed_weights"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputsFormatError):
            raise
        raise InputsFormatError(f"malformed replay inputs: {exc}") from None


__all__ = ["INPUTS_VERSION", "InputsFormatError", "StoredInputs", "inputs_json", "parse_inputs"]
