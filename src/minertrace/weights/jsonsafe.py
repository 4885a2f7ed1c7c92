"""Strict JSON values: the project's one cleaner before `json.dumps(..., allow_nan=False)`.

JSON has no NaN or Infinity, no numpy types and no dates; `finite_or_null` turns a value
built from dicts, lists, tuples, floats, numpy scalars and arrays, dates and datetimes into
one `json.dumps` accepts, with every non-finite float as null.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np


def finite_or_null(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth, as None, in plain JSON types.

    Floats (numpy's included) stay floats when finite; numpy integers and booleans become
    ints and bools; arrays and tuples become lists (an all-finite float array without a
    Python-level walk); dates and datetimes become ISO 8601 text. Every other value is
    returned unchanged.
    """
    kind = type(value)
    # Exact-type checks first: the plain values of a trace take the cheapest path.
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [finite_or_null(v) for v in value]
    if kind is dict:
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or (
            value.dtype.kind == "f" and bool(np.isfinite(value).all())
        ):
            return value.tolist()
        return finite_or_null(value.tolist())
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


__all__ = ["finite_or_null"]
