"""Score rows → float64 matrices with NaN for missing entries, counting why (D4).

Clean rows (numbers and None, the usual case) take one numpy conversion for all rows of a task;
for rows given as Python lists, ``marshal`` proves that every entry is a float or None (see
`_proven_floats_and_none`). Rows holding strings or other objects go through a per-entry
classification; that is the only per-entry Python work, and only for those rows.
"""

from __future__ import annotations

import marshal
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
_NONE_TYPE = type(None)
# Element types a whole block can be converted from in one numpy call (None becomes NaN).
_CLEAN_TYPES = {float, int, _NONE_TYPE, np.float64}
# marshal format 2 (no back-references): a list is "[" (a tuple "(") and its length in 4
# bytes, then one record per entry; None is the byte "N", a float "g" and its 8 bytes.
_MARSHAL_VERSION = 2
_HEADER = 5
_LIST_CODE, _TUPLE_CODE, _NONE_CODE, _FLOAT_CODE = (ord(c) for c in "[(Ng")
_NONE_RECORD, _FLOAT_RECORD = 1, 9
_CHUNK_ENTRIES = 8192
_CHUNK_ROWS = 8


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

    None when an entry is of none of the `_CLEAN_TYPES` (or is an int too large for a float):
    such rows need the per-entry classification.
    """
    block = np.empty((len(scores), n_uids), dtype=np.float64)
    nulls = _proven_floats_and_none(scores, block)
    if nulls is not None:
        return block, nulls
    # Ints, numpy floats, float NaN, ... among the entries: their types decide.
    types = list(map(type, chain.from_iterable(scores)))
    nulls = types.count(_NONE_TYPE)
    if types.count(float) + nulls != len(types) and not set(types) <= _CLEAN_TYPES:
        return None
    try:
        # fromiter reads None as NaN, several times faster than np.array on such lists.
        values = np.fromiter(chain.from_iterable(scores), dtype=np.float64, count=block.size)
    except (OverflowError, ValueError, TypeError):
        return None
    return values.reshape(block.shape), nulls


def _proven_floats_and_none(scores: list[Any], out: NDArray[np.float64]) -> int | None:
    """Fill ``out`` and return the number of None entries, if every entry is a float or None.

    None when that is not so (ints, bools, strings, float NaN, subclasses, ...); ``out`` may
    then be partly written.

    Checking each entry's type costs as much as converting it. Instead, ``marshal`` writes the
    rows in one C-level pass that dispatches on each entry's exact type (None is the byte
    ``N``, a float ``g`` and its 8 bytes) and refuses objects that are neither builtin values
    nor buffers, so that the conversion that follows runs none of the caller's code (bar a
    Python 3.12+ class with ``__buffer__``). Taking the NaN entries of the conversion for the
    None entries gives each record's offset in the stream; the stream proves that reading
    when each offset holds the expected type byte and the records end where the stream ends:
    up to the first record that differs, the offsets are right, so that record's own type
    byte would be found there. Rows go in chunks of about `_CHUNK_ENTRIES` entries (at least
    `_CHUNK_ROWS` rows): with larger temporaries, glibc returned and re-faulted their pages
    on every cycle.
    """
    n_uids = out.shape[1]
    step = max(_CHUNK_ROWS, _CHUNK_ENTRIES // max(n_uids, 1))
    nulls = 0
    for start in range(0, len(scores), step):
        rows = scores[start : start + step]
        # Any failure only means "not proven": the rows then take the checks below. From
        # Python 3.12 a class may serve marshal its own buffer (__buffer__), i.e. any code.
        try:
            stream = marshal.dumps(rows, _MARSHAL_VERSION)
            values = np.fromiter(
                chain.from_iterable(rows), dtype=np.float64, count=len(rows) * n_uids
            ).reshape(len(rows), n_uids)
        except Exception:
            return None
        count = _verified_nulls(stream, rows, values)
        if count is None:
            return None
        out[start : start + len(rows)] = values
        nulls += count
    return nulls


def _verified_nulls(stream: bytes, rows: list[Any], values: NDArray[np.float64]) -> int | None:
    """The number of NaN entries of ``values`` when ``stream`` shows them all None and every
    other entry a float (see `_proven_floats_and_none`), else None."""
    if stream[:_HEADER] != bytes([_LIST_CODE]) + len(rows).to_bytes(4, "little"):
        return None
    none = np.isnan(values).view(np.uint8)
    # Each row is a record too: its type byte and its length in 4 bytes, then its entries.
    lengths = np.empty((len(rows), values.shape[1] + 1), dtype=np.uint8)
    lengths[:, 0] = _HEADER
    np.subtract(_FLOAT_RECORD, (_FLOAT_RECORD - _NONE_RECORD) * none, out=lengths[:, 1:])
    offsets = np.cumsum(lengths, dtype=np.intp)
    if int(offsets[-1]) != len(stream) - _HEADER:
        return None
    offsets -= lengths.ravel()
    offsets += _HEADER
    found = np.frombuffer(stream, dtype=np.uint8)[offsets].reshape(lengths.shape)
    row_codes = [_LIST_CODE if type(row) is list else _TUPLE_CODE for row in rows]
    expected = _FLOAT_CODE - (_FLOAT_CODE - _NONE_CODE) * none
    if found[:, 0].tolist() != row_codes or not np.array_equal(found[:, 1:], expected):
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
