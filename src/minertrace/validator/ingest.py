"""Score ingestion: how a validator's task code (and the simulator) feeds `score_table`.

`record_scores` validates the task name, the task id, the UIDs and the values, then writes one
`score_table` row, updating the existing row of the same (task_name, task_id) instead of adding
a second one. Structural problems (task name, task id, UID, timestamp) raise
`ScoreValidationError` before anything is written; bad *values* (None, strings, NaN, ±inf,
anything not a real number) are stored as NaN, the "no entry" marker, and listed in the returned
`IngestReport`, so one broken score never costs the whole run.

Concurrency model: the database functions of `minertrace.validator` are synchronous over a
SQLAlchemy Engine (psycopg); the asyncio service calls them through `asyncio.to_thread`
(`record_scores_async` here), so the event loop never blocks on the database.
"""

from __future__ import annotations

import asyncio
import logging
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine, text

from minertrace.validator._bind import transaction

logger = logging.getLogger(__name__)

WEATHER_TASK_ID_PREFIXES = ("final_weather_scores", "initial_weather_scores")
_SOIL_TASK = re.compile(r"soil_moisture_region_[A-Za-z0-9][A-Za-z0-9_-]*")
_TASK_NAME_MAX = 255
_STATUS_MAX = 50

Scores = Sequence[object] | Mapping[int, object] | np.ndarray
"""A per-UID sequence (index = UID) or a {uid: score} map."""

REASON_MISSING = "missing"
REASON_NAN = "nan"
REASON_INFINITE = "infinite"
REASON_NOT_A_NUMBER = "not a number"


class ScoreValidationError(ValueError):
    """A score row that cannot be stored: bad task name, task id, UID or timestamp."""


@dataclass(frozen=True)
class IngestReport:
    """What `record_scores` stored.

    `bad_entries` maps each UID whose value was replaced by NaN to the reason
    ('missing' for None, 'nan', 'infinite', or 'not a number: <type>').
    """

    task_name: str
    task_id: str
    n_entries: int
    n_valid: int
    inserted: bool
    """False when an existing (task_name, task_id) row was updated."""
    bad_entries: Mapping[int, str] = field(default_factory=dict)

    @property
    def n_bad(self) -> int:
        """Entries stored as NaN."""
        return len(self.bad_entries)


def validate_task(task_name: str, task_id: str) -> None:
    """Raise `ScoreValidationError` unless (task_name, task_id) is a known task run.

    Task names: 'weather', 'geomagnetic', 'soil_moisture_region_<id>' (id of letters,
    digits, '_' or '-'). Weather task ids must start with 'final_weather_scores' or
    'initial_weather_scores' (the weight engine's query selects on those prefixes).
    """
    if not isinstance(task_name, str) or not (
        task_name in ("weather", "geomagnetic") or _SOIL_TASK.fullmatch(task_name)
    ):
        raise ScoreValidationError(
            f"invalid task name {task_name!r}: expected 'weather', 'geomagnetic' or "
            "'soil_moisture_region_<id>'"
        )
    if len(task_name) > _TASK_NAME_MAX:
        raise ScoreValidationError(f"task name longer than {_TASK_NAME_MAX} characters")
    if not isinstance(task_id, str) or not task_id.strip():
        raise ScoreValidationError(f"invalid task id {task_id!r}: expected a non-empty string")
    if task_name == "weather" and not task_id.startswith(WEATHER_TASK_ID_PREFIXES):
        raise ScoreValidationError(
            f"invalid weather task id {task_id!r}: must start with "
            f"{' or '.join(WEATHER_TASK_ID_PREFIXES)}"
        )


def _classify(value: object) -> tuple[float, str | None]:
    """The float to store for one entry and, when it is not a finite number, why."""
    if value is None:
        return math.nan, REASON_MISSING
    # bool is an int subclass but a True/False score is a caller bug, not a value.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan, f"{REASON_NOT_A_NUMBER}: {type(value).__name__}"
    number = float(value)
    if math.isnan(number):
        return math.nan, REASON_NAN
    if math.isinf(number):
        return math.nan, REASON_INFINITE
    return number, None


def _check_uids(uids: np.ndarray, n_uids: int | None) -> None:
    negative = uids[uids < 0]
    if negative.size:
        raise ScoreValidationError(f"negative UIDs: {negative.tolist()}")
    if n_uids is not None:
        too_big = uids[uids >= n_uids]
        if too_big.size:
            raise ScoreValidationError(
                f"UIDs {too_big.tolist()} out of range: the subnet has {n_uids} UIDs"
            )


def _from_mapping(
    scores: Mapping[int, object], n_uids: int | None
) -> tuple[np.ndarray, dict[int, str]]:
    keys = list(scores.keys())
    bad_keys = [k for k in keys if isinstance(k, bool) or not isinstance(k, numbers.Integral)]
    if bad_keys:
        raise ScoreValidationError(f"UIDs must be integers, got {bad_keys[:10]!r}")
    uids = np.asarray([int(k) for k in keys], dtype=np.int64)
    _check_uids(uids, n_uids)
    length = n_uids if n_uids is not None else (int(uids.max()) + 1 if uids.size else 0)
    out = np.full(length, np.nan)
    bad: dict[int, str] = {}
    for uid, value in zip(uids.tolist(), scores.values(), strict=True):
        out[uid], reason = _classify(value)
        if reason is not None:
            bad[uid] = reason
    return out, bad


def _from_array(values: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Vectorised path for numeric numpy arrays."""
    out = np.asarray(values, dtype=np.float64).copy()
    bad: dict[int, str] = {}
    for uid in np.flatnonzero(np.isnan(out)).tolist():
        bad[uid] = REASON_NAN
    for uid in np.flatnonzero(np.isinf(out)).tolist():
        bad[uid] = REASON_INFINITE
    out[~np.isfinite(out)] = np.nan
    return out, bad


def _from_sequence(
    scores: Sequence[object] | np.ndarray, n_uids: int | None
) -> tuple[np.ndarray, dict[int, str]]:
    if isinstance(scores, np.ndarray) and scores.ndim != 1:
        raise ScoreValidationError(f"scores must be one-dimensional, got shape {scores.shape}")
    if isinstance(scores, np.ndarray) and scores.dtype.kind in "fiu":
        out, bad = _from_array(scores)
    else:
        pairs = [_classify(v) for v in scores]
        out = np.asarray([p[0] for p in pairs], dtype=np.float64)
        bad = {uid: p[1] for uid, p in enumerate(pairs) if p[1] is not None}
    if n_uids is None:
        return out, bad
    if out.size > n_uids:
        extra = np.flatnonzero(np.isfinite(out[n_uids:])) + n_uids
        if extra.size:
            raise ScoreValidationError(
                f"UIDs {extra.tolist()} out of range: the subnet has {n_uids} UIDs"
            )
        # Trailing slots beyond the subnet carry no entries; drop them so every stored
        # array has the subnet's length.
        bad = {uid: reason for uid, reason in bad.items() if uid < n_uids}
        return out[:n_uids], bad
    padded = np.full(n_uids, np.nan)
    padded[: out.size] = out
    return padded, bad


def score_array(scores: Scores, n_uids: int | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """Validate `scores` into a float64 per-UID array (NaN = no entry) plus the bad entries.

    A mapping {uid: score} is laid out over `n_uids` slots (or max uid + 1 when unknown); a
    sequence is indexed by UID and padded with NaN to `n_uids`. Raises `ScoreValidationError`
    for a UID that is not a non-negative integer below `n_uids`.
    """
    if n_uids is not None and n_uids < 0:
        raise ScoreValidationError(f"n_uids must be >= 0, got {n_uids}")
    if isinstance(scores, Mapping):
        return _from_mapping(scores, n_uids)
    if isinstance(scores, (str, bytes)) or not isinstance(scores, (Sequence, np.ndarray)):
        raise ScoreValidationError(
            f"scores must be a per-UID sequence or a {{uid: score}} mapping, "
            f"got {type(scores).__name__}"
        )
    return _from_sequence(scores, n_uids)


def subnet_size(conn: Connection) -> int | None:
    """max(uid) + 1 over node_table, or None while node_table is empty."""
    top = conn.execute(text("SELECT max(uid) FROM node_table")).scalar()
    return None if top is None else int(top) + 1


_UPSERT = text(
    """
    INSERT INTO score_table (task_name, task_id, score, created_at, status)
    VALUES (:task_name, :task_id, CAST(:score AS double precision[]), :created_at, :status)
    ON CONFLICT (task_name, task_id) DO UPDATE
       SET score = EXCLUDED.score,
           created_at = EXCLUDED.created_at,
           status = EXCLUDED.status
    RETURNING (xmax = 0) AS inserted
    """
)


def record_scores(
    conn_or_engine: Engine | Connection,
    task_name: str,
    task_id: str,
    scores: Scores,
    created_at: datetime,
    status: str = "pending",
    *,
    n_uids: int | None = None,
) -> IngestReport:
    """Write (or update) the score_table row of one task run and report what was stored.

    `scores` is a per-UID sequence (list, tuple or 1-D numpy array) or a {uid: score} map.
    `n_uids` bounds the UIDs; when None it is taken from node_table (max uid + 1) in the same
    transaction, and left unbounded while node_table is empty. `created_at` must be
    timezone-aware. An existing (task_name, task_id) row gets the new scores, created_at and
    status (one `INSERT ... ON CONFLICT DO UPDATE`). With an Engine the write commits on
    return; with a Connection it joins the caller's transaction.

    Raises `ScoreValidationError` (a ValueError) for an invalid task name, task id, status,
    UID or timestamp; nothing is written then.
    """
    validate_task(task_name, task_id)
    if not isinstance(status, str) or not status or len(status) > _STATUS_MAX:
        raise ScoreValidationError(
            f"invalid status {status!r}: expected a non-empty string of <= {_STATUS_MAX} chars"
        )
    if not isinstance(created_at, datetime) or created_at.tzinfo is None:
        raise ScoreValidationError(
            f"created_at must be a timezone-aware datetime, got {created_at!r}"
        )
    with transaction(conn_or_engine) as conn:
        bound = n_uids if n_uids is not None else subnet_size(conn)
        # Raises before the write, so a rejected row never touches score_table.
        array, bad = score_array(scores, bound)
        inserted = bool(
            conn.execute(
                _UPSERT,
                {
                    "task_name": task_name,
                    "task_id": task_id,
                    "score": array.tolist(),
                    "created_at": created_at,
                    "status": status,
                },
            ).scalar_one()
        )
    report = IngestReport(
        task_name=task_name,
        task_id=task_id,
        n_entries=int(array.size),
        n_valid=int(array.size - np.count_nonzero(np.isnan(array))),
        inserted=inserted,
        bad_entries=dict(sorted(bad.items())),
    )
    wrong = {
        uid: r for uid, r in report.bad_entries.items() if r not in (REASON_MISSING, REASON_NAN)
    }
    if wrong:
        logger.warning(
            "%s/%s: %d entries stored as NaN (not finite numbers): %s",
            task_name,
            task_id,
            len(wrong),
            dict(list(wrong.items())[:10]),
        )
    return report


async def record_scores_async(
    engine: Engine,
    task_name: str,
    task_id: str,
    scores: Scores,
    created_at: datetime,
    status: str = "pending",
    *,
    n_uids: int | None = None,
) -> IngestReport:
    """`record_scores` for asyncio callers: runs it on the sync Engine in a worker thread."""
    return await asyncio.to_thread(
        record_scores, engine, task_name, task_id, scores, created_at, status, n_uids=n_uids
    )
