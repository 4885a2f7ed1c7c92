"""Score rows → float64 matrices with NaN for missing entries, counting why (D4).

Clean rows (numbers only, the usual case) take a single numpy conversion. Rows holding None,
strings or other objects go through a per-entry classification; that is the only per-entry
Python work, and only for those rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.inputs import ScoreRow

_OK, _NULL, _STRING, _NAN, _INF, _OTHER = range(6)
_NUMBER_TYPES = (int, float, np.integer, np.floating)
# Element types a whole block can be converted from in one numpy call (None becomes NaN).
_CLEAN_TYPES = {float, int, type(None), np.float64}


@dataclass
class DataQuality:
    """Counters of entries treated as missing, by reason, and of suspicious rows/values.

    ``missing_overflow`` counts aggregated task scores (one per UID and task), not entries:
    finite entries whose mean or decayed sum is not finite (see ``finite_or_missing``).
    """

    missing_null: int = 0
    missing_string: int = 0
    missing_nan: int = 0
    missing_inf: int = 0
    missing_other: int = 0
    missing_overflow: int = 0
    rows_wrong_length: int = 0
    rows_all_missing: int = 0
    scores_negative: int = 0
    scores_above_one: int = 0
    weights_non_finite: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def _classify(value: Any) -> tuple[float, int]:
    if value is None:
        return math.nan, _NULL
    if isinstance(value, (str, bytes)):
        return math.nan, _STRING
    if isinstance(value, _NUMBER_TYPES):
        try:
            x = float(value)
        except OverflowError:
            return math.nan, _INF
        if math.isnan(x):
            return math.nan, _NAN
        if math.isinf(x):
            return math.nan, _INF
        return x, _OK
    return math.nan, _OTHER


_classify_ufunc = np.frompyfunc(_classify, 1, 2)


def parse_rows(rows: Sequence[ScoreRow], n_uids: int, dq: DataQuality) -> NDArray[np.float64]:
    """Stack rows into an (len(rows), n_uids) float64 matrix; missing entries are NaN."""
    good = [i for i, row in enumerate(rows) if row.score_length() == n_uids]
    dq.rows_wrong_length += len(rows) - len(good)
    block = _fast_block([rows[i].score for i in good], n_uids, dq) if good else None
    if block is not None and len(good) == len(rows):
        out = block
    else:
        out = np.full((len(rows), n_uids), np.nan, dtype=np.float64)
        if block is not None:
            out[good] = block
        else:
            for i in good:
                out[i] = _parse_score(rows[i].score, n_uids, dq)
    if good and n_uids:
        missing = np.isnan(out if len(good) == len(rows) else out[good])
        dq.rows_all_missing += int(np.count_nonzero(missing.all(axis=1)))
    # Comparisons with NaN are false, so the missing entries count in neither.
    dq.scores_negative += int(np.count_nonzero(out < 0))
    dq.scores_above_one += int(np.count_nonzero(out > 1))
    return out


def _fast_block(scores: list[Any], n_uids: int, dq: DataQuality) -> NDArray[np.float64] | None:
    """All rows at once when they hold only numbers and None (the usual case), else None.

    The result is a new array (never a view of the caller's rows), with ±inf replaced by NaN.
    """
    if all(isinstance(s, np.ndarray) and s.dtype.kind in "fiu" for s in scores):
        block = np.stack(scores).astype(np.float64, copy=False)
        nulls = 0
    elif all(isinstance(s, (list, tuple)) for s in scores):
        kinds = set(map(type, chain.from_iterable(scores)))
        if not kinds <= _CLEAN_TYPES:
            return None
        try:
            # fromiter reads None as NaN and is several times faster than np.array on
            # nested lists that hold None.
            flat = np.fromiter(
                chain.from_iterable(scores), dtype=np.float64, count=len(scores) * n_uids
            )
        except (OverflowError, ValueError, TypeError):
            return None
        block = flat.reshape(len(scores), n_uids)
        nulls = sum(s.count(None) for s in scores) if type(None) in kinds else 0
    else:
        return None
    finite = np.isfinite(block)
    if finite.all():
        return block
    missing = int(block.size - np.count_nonzero(finite))
    nan_count = int(np.count_nonzero(np.isnan(block)))
    dq.missing_null += nulls
    dq.missing_nan += nan_count - nulls
    dq.missing_inf += missing - nan_count
    if missing != nan_count:
        block[~finite] = np.nan
    return block


def _parse_score(score: Any, n: int, dq: DataQuality) -> NDArray[np.float64]:
    arr = _fast_array(score)
    if arr is not None:
        nan = np.isnan(arr)
        inf = np.isinf(arr)
        dq.missing_nan += int(np.count_nonzero(nan))
        dq.missing_inf += int(np.count_nonzero(inf))
        return np.where(inf, np.nan, arr)
    obj = np.fromiter(score, dtype=object, count=n)
    values, codes = _classify_ufunc(obj)
    codes = codes.astype(np.intp)
    counts = np.bincount(codes, minlength=6)
    dq.missing_null += int(counts[_NULL])
    dq.missing_string += int(counts[_STRING])
    dq.missing_nan += int(counts[_NAN])
    dq.missing_inf += int(counts[_INF])
    dq.missing_other += int(counts[_OTHER])
    return np.asarray(values.astype(np.float64))


def _fast_array(score: Any) -> NDArray[np.float64] | None:
    """The row as float64 when it holds only numbers, else None (needs classification)."""
    if isinstance(score, np.ndarray):
        if score.dtype.kind in "fiu":
            return score.astype(np.float64, copy=False)
        return None
    if isinstance(score, Mapping):
        return None
    try:
        arr = np.asarray(score)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        return None
    return arr.astype(np.float64, copy=False)
