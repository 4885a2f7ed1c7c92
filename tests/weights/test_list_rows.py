"""Score rows given as Python lists (what a DB driver returns) against the same rows as numpy.

The list path converts a task's rows at once and proves with `marshal` that they hold only
floats and None; anything else takes the type pass or the per-entry classification (D4). These
tests check that every route gives, bit for bit, what the per-entry rules give.
"""

from __future__ import annotations

import json
import math
import struct
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minertrace.weights import ScoreRow, compute_cycle
from minertrace.weights.parse import (
    DataQuality,
    _classify,
    _proven_floats_and_none,
    parse_rows,
)
from tests.helpers.weights import NOW, make_inputs

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class HasFloat:
    """Not a number by D4, although float() accepts it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


class OddFloat(float):
    """A float subclass whose float() differs from its stored value."""

    def __float__(self) -> float:
        return 0.125


def _nan(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


# Doubles whose little-endian bytes hold the marshal type codes "N" (0x4E) and "g" (0x67), so
# that a stream parsed at the wrong offsets would still look plausible.
TRICKY = [
    struct.unpack("<d", b"gNgNgNg?")[0],
    struct.unpack("<d", b"NNNNNNN?")[0],
    struct.unpack("<d", b"ggggggg?")[0],
    struct.unpack("<d", b"\x00g\x00N\x00g\xe0?")[0],
]
plain = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 5e-324, 1.7976931348623157e308, *TRICKY]),
    st.sampled_from([math.nan, -math.nan, _nan(0x7FF4000000000001), _nan(0xFFF8DEADBEEF0001)]),
)
odd = st.one_of(
    st.integers(-(2**70), 2**70),
    st.just(10**400),
    st.booleans(),
    st.sampled_from(["0.5", "1.25", "nan", "inf", "x", "", "gggg", "NNNN"]),
    st.sampled_from([b"0.5", b"1.25"]),
    st.builds(HasFloat, st.floats(0, 1)),
    st.builds(OddFloat, st.floats(0, 1)),
    st.builds(Decimal, st.sampled_from(["0.5", "0", "1e400"])),
    st.builds(Fraction, st.integers(0, 4), st.integers(1, 4)),
    st.sampled_from(
        [np.float64(0.25), np.float32(0.1), np.int64(3), np.bool_(True), np.float64("nan")]
    ),
    st.sampled_from([complex(1, 0), [0.5], (0.5,), {"a": 1}, Ellipsis]),
)
entry = st.one_of(plain, plain, plain, odd)


def _reference(rows: list[list[Any]], n: int) -> tuple[np.ndarray, DataQuality]:
    """The rows classified entry by entry with D4's rules (the engine's own slow path)."""
    dq = DataQuality()
    out = np.full((len(rows), n), np.nan)
    reasons = ["", "missing_null", "missing_string", "missing_nan", "missing_inf", "missing_other"]
    for i, row in enumerate(rows):
        if len(row) != n:
            dq.rows_wrong_length += 1
            continue
        for u, value in enumerate(row):
            x, code = _classify(value)
            out[i, u] = x
            if code:
                setattr(dq, reasons[code], getattr(dq, reasons[code]) + 1)
        if n and np.isnan(out[i]).all():
            dq.rows_all_missing += 1
    dq.scores_negative = int(np.count_nonzero(out < 0))
    dq.scores_above_one = int(np.count_nonzero(out > 1))
    return out, dq


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal NaN positions and, elsewhere, identical bits (so -0.0 differs from 0.0)."""
    if a.dtype != np.float64 or b.dtype != np.float64:
        return a.dtype == b.dtype and bool(np.array_equal(a, b))
    nan = np.isnan(a)
    return bool(
        np.array_equal(nan, np.isnan(b))
        and a[~nan].view(np.int64).tobytes() == b[~nan].view(np.int64).tobytes()
    )


def _rows(n: int, values: Any, lengths: Any = None) -> Any:
    row = st.lists(values, min_size=n, max_size=n)
    if lengths is not None:
        row = st.one_of(row, row, row, st.lists(values, max_size=n + 1))
    return st.lists(st.one_of(row, row.map(tuple)), max_size=6)


def _score_rows(rows: list[Any]) -> list[ScoreRow]:
    return [ScoreRow("geomagnetic", f"g{j}", r, NOW) for j, r in enumerate(rows)]


@SETTINGS
@given(st.integers(0, 9).flatmap(lambda n: st.tuples(st.just(n), _rows(n, entry, "mixed"))))
def test_list_rows_parse_as_the_per_entry_rules(data: tuple[int, list[Any]]) -> None:
    n, rows = data
    dq = DataQuality()
    with np.errstate(invalid="ignore"):
        got = parse_rows(_score_rows(rows), n, dq)
    want, want_dq = _reference([list(r) for r in rows], n)
    assert _same_bits(got, want)
    assert dq == want_dq


@SETTINGS
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(st.just(n), _rows(n, st.one_of(st.floats(), st.floats(), odd)))
    )
)
def test_numbers_with_one_odd_entry_parse_as_the_per_entry_rules(
    data: tuple[int, list[Any]],
) -> None:
    # Without None, numpy itself would convert such a row in one call; D4 must still decide
    # numpy booleans, float subclasses, big ints and strings entry by entry.
    n, rows = data
    dq = DataQuality()
    with np.errstate(invalid="ignore"):
        got = parse_rows(_score_rows(rows), n, dq)
    want, want_dq = _reference([list(r) for r in rows], n)
    assert _same_bits(got, want)
    assert dq == want_dq


@SETTINGS
@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), _rows(n, plain))))
def test_floats_and_none_take_the_proven_route(data: tuple[int, list[Any]]) -> None:
    n, rows = data
    dq = DataQuality()
    with np.errstate(invalid="ignore"):
        got = parse_rows(_score_rows(rows), n, dq)
    want, want_dq = _reference([list(r) for r in rows], n)
    assert _same_bits(got, want)
    assert dq == want_dq


def test_marshal_proof_refuses_everything_but_floats_and_none() -> None:
    def nulls(*rows: Any) -> int | None:
        out = np.empty((len(rows), len(rows[0])))
        return _proven_floats_and_none(list(rows), out)

    assert nulls([0.5, None, *TRICKY, None, -0.0, math.inf]) == 2
    assert nulls([None] * 7, (None, 0.5) * 3 + (None,)) == 11
    assert nulls(TRICKY, tuple(TRICKY)) == 0
    # A 4-character string is 9 bytes in the stream, like a float, and converts to 1.25.
    assert nulls([0.5, "1.25", None]) is None
    assert nulls([0.5, None, None], [0.5, "1.25", None]) is None
    assert nulls([0.5, 1, None]) is None
    assert nulls([0.5, True, None]) is None
    assert nulls([0.5, math.nan, None]) is None
    assert nulls([0.5, b"0.5"]) is None
    assert nulls([0.5, OddFloat(0.5)]) is None
    assert nulls([0.5, HasFloat(0.5)]) is None


def test_marshal_proof_checks_where_each_row_starts() -> None:
    # Rows of 3 and 1 entries read as two rows of 2: the bytes of "ggggggg?" sit where the
    # misread offsets expect type bytes, and the stream's length matches; only the second
    # row's list header is out of place.
    g = TRICKY[2]
    assert _proven_floats_and_none([[g, g, g], [g]], np.empty((2, 2))) is None
    assert _proven_floats_and_none([[g, g], [g, g]], np.empty((2, 2))) == 0


def test_rows_in_many_chunks_keep_their_order_and_counts() -> None:
    rng = np.random.default_rng(3)
    rows = [[None if x < 0.3 else float(x) for x in rng.random(600)] for _ in range(40)]
    rows[17] = tuple(rows[17])  # type: ignore[call-overload]
    out = np.empty((40, 600))
    assert _proven_floats_and_none(rows, out) == sum(r.count(None) for r in rows)
    want, _ = _reference([list(r) for r in rows], 600)
    assert _same_bits(out, want)


def _as_arrays(rows: list[list[Any]]) -> list[np.ndarray]:
    """The same rows as float64 arrays: every entry D4 counts as missing becomes NaN."""
    return [np.array([_classify(v)[0] for v in row], dtype=np.float64) for row in rows]


def _trace_json(trace: Any) -> str:
    obj = trace.to_json_dict()
    obj.pop("data_quality")
    return json.dumps(obj, sort_keys=True, allow_nan=False)


MISSING = ("missing_null", "missing_string", "missing_nan", "missing_inf", "missing_other")


@SETTINGS
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.lists(entry, min_size=n, max_size=n), max_size=2),
            st.lists(st.lists(entry, min_size=n, max_size=n), max_size=4),
            st.lists(st.lists(entry, min_size=n, max_size=n), max_size=5),
        )
    )
)
def test_cycle_from_lists_equals_cycle_from_arrays(
    data: tuple[int, list[list[Any]], list[list[Any]], list[list[Any]]],
) -> None:
    n, weather, geo, soil = data
    from_lists = compute_cycle(make_inputs(weather=weather, geo=geo, soil=soil, n_uids=n))
    from_arrays = compute_cycle(
        make_inputs(
            weather=_as_arrays(weather),  # type: ignore[arg-type]
            geo=_as_arrays(geo),  # type: ignore[arg-type]
            soil=_as_arrays(soil),  # type: ignore[arg-type]
            n_uids=n,
        )
    )
    assert _trace_json(from_lists) == _trace_json(from_arrays)
    for name, vector in from_lists.stage_vectors().items():
        assert _same_bits(vector, from_arrays.stage_vectors()[name]), name
    lists_dq, arrays_dq = from_lists.data_quality(), from_arrays.data_quality()
    assert sum(lists_dq[k] for k in MISSING) == sum(arrays_dq[k] for k in MISSING)
    assert {k: v for k, v in lists_dq.items() if k not in MISSING} == {
        k: v for k, v in arrays_dq.items() if k not in MISSING
    }


def test_list_and_tuple_rows_have_a_length_and_other_values_none() -> None:
    def length(score: Any) -> int | None:
        return ScoreRow("soil", None, score, NOW).score_length()

    class Rows(list[Any]):
        pass

    assert length([0.5, None]) == 2
    assert length((0.5, None, 1.0)) == 3
    assert length(Rows([0.5])) == 1
    assert length(np.zeros(4)) == 4
    assert length("0.5") is None
    assert length({"a": 1}) is None
    assert length(None) is None
