"""Inputs of one weight cycle: score rows, the node list, and the submission parameters.

Score *values* are never validated here (bad entries are counted and treated as missing by the
engine, D4); only the structure is: timestamps must be timezone-aware, node UIDs unique.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ScoreRow:
    """One `score_table` row: a task run's per-UID scores.

    ``score`` may be any sequence (list, tuple, numpy array) of per-UID values; entries that are
    None, strings, NaN or ±inf are treated as missing and counted by the engine (D4). A score
    that is not a sequence, or has the wrong length, makes the whole row missing.
    """

    task_name: str
    task_id: str | None
    score: Any
    created_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.created_at, datetime) or self.created_at.utcoffset() is None:
            raise ValueError(
                f"ScoreRow.created_at must be a timezone-aware datetime "
                f"(task_name={self.task_name!r}, task_id={self.task_id!r})"
            )

    def score_length(self) -> int | None:
        """Length of ``score`` when it is a sequence of values, else None."""
        s = self.score
        if isinstance(s, np.ndarray):
            return int(s.shape[0]) if s.ndim == 1 else None
        if isinstance(s, (str, bytes, Mapping)) or not isinstance(s, Sequence):
            return None
        return len(s)


@dataclass(frozen=True)
class Node:
    """One registered UID: the columns of `node_table` the engine reads."""

    uid: int
    hotkey: str | None
    coldkey: str | None


@dataclass(frozen=True)
class NodeList:
    """The registered UIDs in ascending order with their hotkeys and coldkeys."""

    nodes: tuple[Node, ...] = ()

    def __post_init__(self) -> None:
        uids = [n.uid for n in self.nodes]
        for uid in uids:
            if not isinstance(uid, (int, np.integer)) or isinstance(uid, bool) or uid < 0:
                raise ValueError(f"NodeList: uid {uid!r} is not a non-negative integer")
        dupes = sorted(u for u, c in Counter(uids).items() if c > 1)
        if dupes:
            raise ValueError(f"NodeList: duplicate UID(s) {dupes}")
        nodes = tuple(sorted(self.nodes, key=lambda n: n.uid))
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "_uids", np.array([n.uid for n in nodes], dtype=np.int64))

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> NodeList:
        """Build from node_table rows or a slot list.

        Each entry is a :class:`Node`, a mapping with ``uid``/``hotkey``/``coldkey``, a
        ``(uid, hotkey, coldkey)`` tuple, or an object with those attributes (e.g. a SQLAlchemy
        row). ``None`` entries are empty slots. A mapping without ``uid`` takes its position in
        the list as its UID, so a slot list indexed by UID works too.
        """
        out: list[Node] = []
        for pos, row in enumerate(rows):
            if row is None:
                continue
            out.append(_to_node(row, pos))
        return cls(tuple(out))

    @property
    def uids(self) -> np.ndarray:
        """Registered UIDs, ascending (int64)."""
        uids: np.ndarray = self._uids  # type: ignore[attr-defined]
        return uids

    @property
    def coldkeys(self) -> list[str | None]:
        """Coldkeys in the order of :attr:`uids`."""
        return [n.coldkey for n in self.nodes]

    @property
    def hotkeys(self) -> list[str | None]:
        """Hotkeys in the order of :attr:`uids`."""
        return [n.hotkey for n in self.nodes]

    def slot_count(self) -> int:
        """max UID + 1, or 0 when empty."""
        return self.nodes[-1].uid + 1 if self.nodes else 0

    def __len__(self) -> int:
        return len(self.nodes)


def _to_node(row: Any, pos: int) -> Node:
    if isinstance(row, Node):
        return row
    if isinstance(row, Mapping):
        uid = row.get("uid", pos)
        return Node(uid=_as_uid(uid), hotkey=row.get("hotkey"), coldkey=row.get("coldkey"))
    if isinstance(row, (tuple, list)) and len(row) == 3:
        return Node(uid=_as_uid(row[0]), hotkey=row[1], coldkey=row[2])
    if hasattr(row, "uid"):
        return Node(
            uid=_as_uid(row.uid),
            hotkey=getattr(row, "hotkey", None),
            coldkey=getattr(row, "coldkey", None),
        )
    raise ValueError(f"node entry {pos} is not a node: {row!r}")


def _as_uid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"node uid {value!r} is not a non-negative integer")
    return int(value)


@dataclass(frozen=True)
class CycleInputs:
    """Everything one weight cycle reads.

    Rows are in the order the score_table queries return them (spec §1.4). ``nodes`` accepts a
    :class:`NodeList` or anything :meth:`NodeList.from_rows` accepts (None = nothing
    registered). ``n_uids`` defaults to the most common score-row length (ties: the longer),
    or to the node slot count when there are no rows.
    """

    weather_results: Sequence[ScoreRow]
    geomagnetic_results: Sequence[ScoreRow]
    soil_results: Sequence[ScoreRow]
    now: datetime
    nodes: Any = None
    active_validator_uids: Sequence[int] = ()
    n_uids: int | None = None
    max_weight_limit: float = 1.0
    min_allowed_weights: int = 0
    node_list: NodeList = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.now, datetime) or self.now.utcoffset() is None:
            raise ValueError("CycleInputs.now must be a timezone-aware datetime")
        for name in ("weather_results", "geomagnetic_results", "soil_results"):
            rows = getattr(self, name)
            if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
                raise ValueError(f"CycleInputs.{name} must be a list of ScoreRow")
            for i, row in enumerate(rows):
                if not isinstance(row, ScoreRow):
                    raise ValueError(f"CycleInputs.{name}[{i}] is not a ScoreRow")
        nodes = self.nodes
        node_list = nodes if isinstance(nodes, NodeList) else NodeList.from_rows(nodes or ())
        object.__setattr__(self, "node_list", node_list)
        avs = tuple(self.active_validator_uids)
        for v in avs:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"CycleInputs.active_validator_uids: {v!r} is not a UID")
        object.__setattr__(self, "active_validator_uids", tuple(int(v) for v in avs))
        if self.n_uids is None:
            object.__setattr__(self, "n_uids", self._default_n_uids())
        n = self.n_uids
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"CycleInputs.n_uids must be a non-negative integer, got {n!r}")
        limit = self.max_weight_limit
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= 1:
            raise ValueError(f"CycleInputs.max_weight_limit must lie in (0, 1], got {limit!r}")
        mins = self.min_allowed_weights
        if isinstance(mins, bool) or not isinstance(mins, (int, np.integer)) or mins < 0:
            raise ValueError(
                f"CycleInputs.min_allowed_weights must be a non-negative integer, got {mins!r}"
            )

    def _default_n_uids(self) -> int:
        lengths = Counter(
            n
            for rows in (self.weather_results, self.geomagnetic_results, self.soil_results)
            for row in rows
            if (n := row.score_length()) is not None
        )
        if not lengths:
            return self.node_list.slot_count()
        top = max(lengths.values())
        return max(n for n, c in lengths.items() if c == top)

    @property
    def uid_count(self) -> int:
        """``n_uids`` as resolved in construction."""
        assert self.n_uids is not None
        return int(self.n_uids)

    @classmethod
    def from_json(cls, obj_or_path: Mapping[str, Any] | str | Path) -> CycleInputs:
        """Read the conformance format (`minertrace-weights/1`) from a dict or a file path.

        Rows without ``task_name`` get the list's task name ('weather', 'geomagnetic',
        'soil_moisture'); ``expected`` and ``meta`` are ignored. Optional keys ``n_uids``,
        ``max_weight_limit`` and ``min_allowed_weights`` are honoured.
        """
        if isinstance(obj_or_path, (str, Path)):
            with open(obj_or_path, encoding="utf-8") as fh:
                obj = json.load(fh)
        else:
            obj = obj_or_path
        if not isinstance(obj, Mapping):
            raise ValueError("cycle input must be a JSON object")
        if obj.get("format", "minertrace-weights/1") != "minertrace-weights/1":
            raise ValueError(f"unsupported format {obj.get('format')!r}")
        if "now" not in obj:
            raise ValueError("cycle input has no 'now'")
        return cls(
            weather_results=_rows(obj, "weather_results", "weather"),
            geomagnetic_results=_rows(obj, "geomagnetic_results", "geomagnetic"),
            soil_results=_rows(obj, "soil_results", "soil_moisture"),
            now=_parse_time(obj["now"], "now"),
            nodes=obj.get("nodes"),
            active_validator_uids=obj.get("active_validator_uids") or (),
            n_uids=obj.get("n_uids"),
            max_weight_limit=obj.get("max_weight_limit", 1.0),
            min_allowed_weights=obj.get("min_allowed_weights", 0),
        )


def _rows(obj: Mapping[str, Any], key: str, task: str) -> list[ScoreRow]:
    raw = obj.get(key) or []
    if not isinstance(raw, list):
        raise ValueError(f"{key} must be a list")
    out: list[ScoreRow] = []
    for i, row in enumerate(raw):
        if not isinstance(row, Mapping) or "created_at" not in row:
            raise ValueError(f"{key}[{i}] must be an object with created_at")
        out.append(
            ScoreRow(
                task_name=str(row.get("task_name", task)),
                task_id=row.get("task_id"),
                score=row.get("score"),
                created_at=_parse_time(row["created_at"], f"{key}[{i}].created_at"),
            )
        )
    return out


def _parse_time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{where}: not an ISO-8601 timestamp: {value!r}") from exc
    else:
        raise ValueError(f"{where}: not a timestamp: {value!r}")
    if ts.utcoffset() is None:
        raise ValueError(f"{where}: timestamp has no UTC offset: {value!r}")
    return ts
