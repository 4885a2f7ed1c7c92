"""Checking a score row before it is stored: task name, task id, UIDs and values.

Structural problems (task name, task id, UID, timestamp) raise `ScoreValidationError`; bad
*values* (None, strings, NaN, ±inf, anything not a real number) become NaN, the "no entry"
marker, and are listed per UID, so one broken score never costs the whole run. Pure: the
writes are `minertrace.store.scores.record_scores`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from minertrace.vocabulary import (
    SCORE_TASK_GEOMAGNETIC,
    SCORE_TASK_WEATHER,
    SOIL_TASK_PREFIX,
    WEATHER_TASK_ID_PREFIXES,
)

_SOIL_TASK = re.compile(re.escape(SOIL_TASK_PREFIX) + r"[A-Za-z0-9][A-Za-z0-9_-]*")
_TASK_NAME_MAX = 255
STATUS_MAX = 50

Scores = Sequence[object] | Mapping[int, object] | np.ndarray
"""A per-UID sequence (index = UID) or a {uid: score} map."""

REASON_MISSING = "missing"
REASON_NAN = "nan"
REASON_INFINITE = "infinite"
REASON_NOT_A_NUMBER = "not a number"
REASON_TOO_LARGE = "too large for a float"
MAX_UID = 65535
"""UIDs are u16 on chain."""


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


def text_problem(value: object) -> str | None:
    """Why PostgreSQL cannot store `value` as text (NUL, lone surrogate), or None."""
    if not isinstance(value, str):
        return f"not text ({type(value).__name__})"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (a lone surrogate)"
    return None


def validate_task(task_name: str, task_id: str) -> None:
    """Raise `ScoreValidationError` unless (task_name, task_id) is a known task run.

    Task names: 'weather', 'geomagnetic', 'soil_moisture_region_<id>' (id of letters,
    digits, '_' or '-'). Weather task ids must start with 'final_weather_scores' or
    'initial_weather_scores' (the weight engine's query selects on those prefixes).
    """
    if not isinstance(task_name, str) or not (
        task_name in (SCORE_TASK_WEATHER, SCORE_TASK_GEOMAGNETIC) or _SOIL_TASK.fullmatch(task_name)
    ):
        raise ScoreValidationError(
            f"invalid task name {task_name!r}: expected 'weather', 'geomagnetic' or "
            "'soil_moisture_region_<id>'"
        )
    if len(task_name) > _TASK_NAME_MAX:
        raise ScoreValidationError(f"task name longer than {_TASK_NAME_MAX} characters")
    if not isinstance(task_id, str) or not task_id.strip():
        raise ScoreValidationError(f"invalid task id {task_id!r}: expected a non-empty string")
    problem = text_problem(task_id)
    if problem is not None:
        raise ScoreValidationError(f"invalid task id {task_id!r}: {problem}")
    if task_name == SCORE_TASK_WEATHER and not task_id.startswith(WEATHER_TASK_ID_PREFIXES):
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
    try:
        number = float(value)
    except OverflowError:
        return math.nan, REASON_TOO_LARGE
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
    ints = [int(k) for k in keys]
    too_big = [k for k in ints if k > MAX_UID]
    if too_big:
        raise ScoreValidationError(f"UIDs {too_big[:10]} out of range: UIDs are 0..{MAX_UID}")
    uids = np.asarray(ints, dtype=np.int64)
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
