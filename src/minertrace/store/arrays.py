"""Numpy vectors as binary PostgreSQL array parameters.

A list of 4,096 floats bound through psycopg is dumped element by element (about 8 ms per
vector); the same vector as a binary `float8[]` is one `tobytes()` (tens of microseconds) and
the server reads it without parsing text. `PgArray` wraps a vector with its array type; the
dumper registered below sends it in PostgreSQL's binary array format. In SQL the parameter is
written as usual, `CAST(:name AS double precision[])`.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np
import psycopg
from numpy.typing import ArrayLike
from psycopg.adapt import Dumper
from psycopg.pq import Format

# kind -> (element oid, array oid, big-endian element dtype)
_TYPES: Final = {
    "float8": (701, 1022, ">f8"),
    "int8": (20, 1016, ">i8"),
    "int4": (23, 1007, ">i4"),
    "bool": (16, 1000, "u1"),
}


class PgArray:
    """A 1-D vector bound as a binary PostgreSQL array of `kind` (float8, int8, int4, bool).

    With `nulls=True` the non-finite entries of a float vector are sent as SQL NULL (as JSON
    wants them); otherwise NaN and the infinities are sent as they are.
    """

    __slots__ = ("kind", "nulls", "oid", "values")

    def __init__(self, values: ArrayLike, kind: str, *, nulls: bool = False) -> None:
        if kind not in _TYPES:
            raise ValueError(f"unknown array kind {kind!r}")
        self.values = np.asarray(values).reshape(-1)
        self.kind = kind
        self.nulls = nulls
        self.oid = _TYPES[kind][1]

    def __len__(self) -> int:
        return int(self.values.size)

    def tolist(self) -> list[Any]:
        """The values as Python scalars."""
        return list(self.values.tolist())

    def payload(self) -> bytes:
        """The array in PostgreSQL's binary format (array_recv)."""
        elem_oid, _, dtype = _TYPES[self.kind]
        n = int(self.values.size)
        if n == 0:
            return struct.pack(">iii", 0, 0, elem_oid)
        width = np.dtype(dtype).itemsize
        rec = np.empty(n, dtype=[("len", ">i4"), ("val", dtype)])
        rec["len"] = width
        rec["val"] = self.values
        missing = ~np.isfinite(self.values) if self.nulls and self.kind == "float8" else None
        if missing is None or not missing.any():
            return struct.pack(">iiiii", 1, 0, elem_oid, n, 1) + rec.tobytes()
        # A NULL element is its length, -1, without a value: drop those value bytes.
        rec["len"][missing] = -1
        keep = np.ones((n, 4 + width), dtype=bool)
        keep[missing, 4:] = False
        body = rec.view(np.uint8).reshape(n, 4 + width)[keep]
        return struct.pack(">iiiii", 1, 1, elem_oid, n, 1) + body.tobytes()


def float8_array(values: ArrayLike, *, nulls: bool = False) -> PgArray:
    """`values` as a binary float8[] parameter (non-finite entries as NULL with `nulls`)."""
    return PgArray(np.asarray(values, dtype=np.float64), "float8", nulls=nulls)


def int_array(values: ArrayLike, kind: str = "int4") -> PgArray:
    """`values` as a binary int4[] (or int8[]) parameter."""
    return PgArray(np.asarray(values, dtype=np.int64), kind)


def bool_array(values: ArrayLike) -> PgArray:
    """`values` as a binary bool[] parameter."""
    return PgArray(np.asarray(values, dtype=bool), "bool")


class _PgArrayDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return bytes(obj.payload())

    def get_key(self, obj: Any, format: Any) -> Any:
        return (PgArray, obj.oid)

    def upgrade(self, obj: Any, format: Any) -> Dumper:
        dumper = _PgArrayDumper(PgArray)
        dumper.oid = obj.oid
        return dumper


psycopg.adapters.register_dumper(PgArray, _PgArrayDumper)

__all__ = ["PgArray", "bool_array", "float8_array", "int_array"]
