"""Score rows → float64 matrices with NaN for missing entries, counting why (D4).

Clean rows (numbers and None, the usual case) take one numpy conversion for all rows of a task;
for rows given as Python lists, ``marshal`` proves that every entry is a float or None (see
`_verified_nulls`). Rows holding strings or other objects go through a per-entry
classification; that is the only per-entry Python work, and only for those rows.
"""

from __future__ import annotations

import marshal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.inputs import ScoreRow

_OK, _NULL, _STRING, _NAN, _INF, _OTHER = range(6)
_NUMBER_TYPES = (int, float, np.integer, np.floating)
_NONE_TYPE = type(None)
# Element types a whole block can be converted from in one numpy call (None becomes NaN).
_CLEAN_TYPES = {float, int, _NONE_TYPE, np.float64}
# marshal format 2 (no back-references): a list is "[" and its length in 4 bytes, then one
# record per entry; None is the byte "N", a float "g" and its 8 bytes.
_MARSHAL_VERSION = 2
_HEADER = 5
_NONE_CODE, _FLOAT_CODE = ord("N"), ord("g")
_NONE_RECORD, _FLOAT_RECORD = 1, 9


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
        converted = _list_block(scores, n_uids)
        if converted is None:
            return None
        block, nulls = converted
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


def _list_block(scores: list[Any], n_uids: int) -> tuple[NDArray[np.float64], int] | None:
    """Rows given as lists or tuples, as one float64 block and its count of None entries.

    None when an entry is not a float, int or None (or is an int too large for a float): such
    rows need the per-entry classification.
    """
    flat: list[Any] = []
    for s in scores:
        # One C-level copy of the references per row; every later pass runs over one list.
        flat += s
    values: NDArray[np.float64] | None = None
    stream = _marshalled(flat)
    if stream is not None:
        # Every entry is a builtin value (marshal refuses other objects), so converting
        # runs no code of the caller's.
        values = _float_values(flat)
        if values is None:
            return None
        nulls = _verified_nulls(stream, values)
        if nulls is not None:
            return values.reshape(len(scores), n_uids), nulls
    types = list(map(type, flat))
    nulls = types.count(_NONE_TYPE)
    if types.count(float) + nulls != len(flat) and not set(types) <= _CLEAN_TYPES:
        return None
    if values is None:
        values = _float_values(flat)
        if values is None:
            return None
    return values.reshape(len(scores), n_uids), nulls


def _float_values(flat: list[Any]) -> NDArray[np.float64] | None:
    """``flat`` as float64, None as NaN; None when an entry does not convert."""
    try:
        # fromiter is several times faster than np.array on lists that hold None; it also
        # parses numeric strings, which is why the callers check the entries' types.
        return np.fromiter(flat, dtype=np.float64, count=len(flat))
    except (OverflowError, ValueError, TypeError):
        return None


def _marshalled(flat: list[Any]) -> bytes | None:
    """``marshal`` format 2 of ``flat``, or None when an entry is not a builtin value."""
    try:
        stream = marshal.dumps(flat, _MARSHAL_VERSION)
    except (ValueError, TypeError, BufferError, OverflowError, RecursionError):
        return None
    if stream[:_HEADER] != b"[" + len(flat).to_bytes(4, "little"):
        return None
    return stream


def _verified_nulls(stream: bytes, values: NDArray[np.float64]) -> int | None:
    """The number of None entries, when the marshalled list holds only floats and None.

    None when it holds anything else (ints, bools, strings, a float NaN, ...).

    marshal writes the list in one C-level pass that dispatches on each entry's exact type:
    None is the byte ``N``, a float ``g`` and its 8 bytes. Taking the NaN entries of
    ``values`` for the None entries gives each record's offset; the stream proves that
    reading when each offset holds the expected type byte and the records end where the
    stream ends: up to the first record that differs, the offsets are right, so that record's
    own type byte would be found there. That is much cheaper than asking each entry its type.
    """
    if not values.size:
        return 0
    none = np.isnan(values).view(np.uint8)
    lengths = _FLOAT_RECORD - (_FLOAT_RECORD - _NONE_RECORD) * none
    # int32 halves the memory the cumulative sum writes, while the stream's length fits.
    offsets = np.cumsum(lengths, dtype=np.int32 if len(stream) < 2**31 else np.int64)
    if int(offsets[-1]) != len(stream) - _HEADER:
        return None
    offsets -= lengths
    offsets += _HEADER
    found = np.frombuffer(stream, dtype=np.uint8).take(offsets)
    expected = _FLOAT_CODE - (_FLOAT_CODE - _NONE_CODE) * none
    if not np.array_equal(found, expected):
        return None
    return int(np.count_nonzero(none))


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
    # numpy reads numpy booleans and float subclasses as numbers too; D4 decides those per
    # entry, so only rows of the plain number types skip the classification.
    if not set(map(type, score)) <= _CLEAN_TYPES:
        return None
    try:
        arr = np.asarray(score)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        return None
    return arr.astype(np.float64, copy=False)
