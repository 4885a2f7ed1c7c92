"""Inputs of one weight cycle: score rows, the node list, and the submission parameters.

Score *values* are never validated here (bad entries are counted and treated as missing by the
engine, D4); only the structure is: timestamps must be timezone-aware, node UIDs unique and
within the chain's 16-bit range, keys text. Every violation raises `CycleInputError` naming
the field.
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

# Windows reach back days from `now`; far-off years would overflow datetime arithmetic.
_YEARS = (1970, 9000)
MAX_UIDS = 65536
"""UIDs are u16 on chain: n_uids, UIDs and min_allowed_weights are capped by it."""


class CycleInputError(ValueError):
    """Cycle inputs that cannot be used; the message names the field."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_uid(value: Any) -> bool:
    return (
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and bool(0 <= value < MAX_UIDS)
    )


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
            raise CycleInputError(
                f"ScoreRow.created_at must be a timezone-aware datetime "
                f"(task_name={self.task_name!r}, task_id={self.task_id!r})"
            )

    def score_length(self) -> int | None:
        """Length of ``score`` when it is a sequence of values, else None."""
        s = self.score
        if type(s) is list or type(s) is tuple:
            # What a DB driver returns; the ABC checks below cost microseconds per row.
            return len(s)
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
            if not _is_uid(uid):
                raise CycleInputError(
                    f"NodeList: uid {_show(uid)} is not a UID (0..{MAX_UIDS - 1})"
                )
        dupes = sorted(u for u, c in Counter(uids).items() if c > 1)
        if dupes:
            raise CycleInputError(f"NodeList: duplicate UID(s) {_show(dupes)}")
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
        uid, hotkey, coldkey = row.uid, row.hotkey, row.coldkey
    elif isinstance(row, Mapping):
        uid, hotkey, coldkey = row.get("uid", pos), row.get("hotkey"), row.get("coldkey")
    elif isinstance(row, (tuple, list)) and len(row) == 3:
        uid, hotkey, coldkey = row
    elif hasattr(row, "uid"):
        uid, hotkey, coldkey = row.uid, getattr(row, "hotkey", None), getattr(row, "coldkey", None)
    else:
        raise CycleInputError(f"nodes[{pos}] is not a node: {_show(row)}")
    return Node(
        uid=_as_uid(uid, pos),
        hotkey=_as_key(hotkey, f"nodes[{pos}].hotkey"),
        coldkey=_as_key(coldkey, f"nodes[{pos}].coldkey"),
    )


def _as_uid(value: Any, pos: int) -> int:
    if not _is_uid(value):
        raise CycleInputError(f"nodes[{pos}].uid {_show(value)} is not a UID (0..{MAX_UIDS - 1})")
    return int(value)


def _as_key(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise CycleInputError(f"{where} must be text or null, got {_show(value)}")
    return value


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
            raise CycleInputError("CycleInputs.now must be a timezone-aware datetime")
        for name in ("weather_results", "geomagnetic_results", "soil_results"):
            rows = getattr(self, name)
            if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
                raise CycleInputError(f"CycleInputs.{name} must be a list of ScoreRow")
            for i, row in enumerate(rows):
                if not isinstance(row, ScoreRow):
                    raise CycleInputError(f"CycleInputs.{name}[{i}] is not a ScoreRow")
        nodes = self.nodes
        if not (nodes is None or isinstance(nodes, (NodeList, list, tuple))):
            raise CycleInputError(f"nodes must be a list of nodes, got {_show(nodes)}")
        node_list = nodes if isinstance(nodes, NodeList) else NodeList.from_rows(nodes or ())
        object.__setattr__(self, "node_list", node_list)
        avs = self.active_validator_uids
        if isinstance(avs, (str, bytes)) or not isinstance(avs, (Sequence, np.ndarray)):
            raise CycleInputError(f"active_validator_uids must be a list of UIDs, got {_show(avs)}")
        for v in avs:
            if not _is_uid(v):
                raise CycleInputError(
                    f"active_validator_uids: {_show(v)} is not a UID (0..{MAX_UIDS - 1})"
                )
        object.__setattr__(self, "active_validator_uids", tuple(int(v) for v in avs))
        if self.n_uids is None:
            object.__setattr__(self, "n_uids", self._default_n_uids())
        n = self.n_uids
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_UIDS:
            raise CycleInputError(
                f"n_uids must be an integer in 0..{MAX_UIDS} (UIDs are 16-bit), got {_show(n)}"
            )
        limit = self.max_weight_limit
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= 1:
            raise CycleInputError(f"max_weight_limit must lie in (0, 1], got {_show(limit)}")
        mins = self.min_allowed_weights
        if (
            isinstance(mins, bool)
            or not isinstance(mins, (int, np.integer))
            or not 0 <= mins <= MAX_UIDS
        ):
            raise CycleInputError(
                f"min_allowed_weights must be an integer in 0..{MAX_UIDS}, got {_show(mins)}"
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
        obj = _load(Path(obj_or_path)) if isinstance(obj_or_path, (str, Path)) else obj_or_path
        if not isinstance(obj, Mapping):
            raise CycleInputError("cycle input must be a JSON object")
        if obj.get("format", "minertrace-weights/1") != "minertrace-weights/1":
            raise CycleInputError(f"unsupported format {_show(obj.get('format'))}")
        if "now" not in obj:
            raise CycleInputError("cycle input has no 'now'")
        avs = obj.get("active_validator_uids")
        return cls(
            weather_results=_rows(obj, "weather_results", "weather"),
            geomagnetic_results=_rows(obj, "geomagnetic_results", "geomagnetic"),
            soil_results=_rows(obj, "soil_results", "soil_moisture"),
            now=_parse_time(obj["now"], "now"),
            nodes=obj.get("nodes"),
            active_validator_uids=() if avs is None else avs,
            n_uids=obj.get("n_uids"),
            max_weight_limit=obj.get("max_weight_limit", 1.0),
            min_allowed_weights=obj.get("min_allowed_weights", 0),
        )


def _load(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise CycleInputError(f"not JSON ({exc})") from None
    except UnicodeDecodeError:
        raise CycleInputError("not UTF-8 text") from None
    except RecursionError:
        raise CycleInputError("the JSON nests too deeply") from None


def _rows(obj: Mapping[str, Any], key: str, task: str) -> list[ScoreRow]:
    raw = obj.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CycleInputError(f"{key} must be a list, got {_show(raw)}")
    out: list[ScoreRow] = []
    for i, row in enumerate(raw):
        if not isinstance(row, Mapping) or "created_at" not in row:
            raise CycleInputError(f"{key}[{i}] must be an object with created_at")
        task_name = row.get("task_name", task)
        if not isinstance(task_name, str):
            raise CycleInputError(f"{key}[{i}].task_name must be text, got {_show(task_name)}")
        out.append(
            ScoreRow(
                task_name=task_name,
                task_id=_as_key(row.get("task_id"), f"{key}[{i}].task_id"),
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
        except ValueError:
            raise CycleInputError(f"{where}: not an ISO-8601 timestamp: {_show(value)}") from None
    else:
        raise CycleInputError(f"{where}: not a timestamp: {_show(value)}")
    if ts.utcoffset() is None:
        raise CycleInputError(f"{where}: timestamp has no UTC offset: {_show(value)}")
    if not _YEARS[0] <= ts.year <= _YEARS[1]:
        raise CycleInputError(f"{where}: year {ts.year} outside {_YEARS[0]}..{_YEARS[1]}")
    return ts
