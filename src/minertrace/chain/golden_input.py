"""Checks of a `yuma-golden/1` document before any number is computed.

Every field is checked for its JSON type, its shape (vectors of length n, an n x n `W`) and the
range the chain enforces (u16 parameters, kappa and penalties in [0, 1], finite non-negative
stake and weights, an owner UID that exists); a violation raises `GoldenFormatError` naming
the field. A parameter given as null takes its default, except `owner_uid`, where null means
"no subnet owner".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

U16_MAX = 65535
MAX_NEURONS = 4096
"""The chain's hard cap on UIDs per subnet; also keeps an n x n `W` in memory."""
MAX_BLOCK = 2**62
"""Block numbers are u64 on chain; int64 arithmetic here (block + cutoff) needs headroom."""
MAX_STAKE = 1e30
"""Above any u64 rao amount, far below where sums of 4096 stakes overflow."""
MAX_WEIGHT = float(U16_MAX)
"""Weights are set as u16 on chain; rows are normalised before use."""
YUMA_VERSIONS = ("yuma2", "yuma3")


class GoldenFormatError(ValueError):
    """The input is not a usable `yuma-golden/1` document."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(value: Any, where: str, low: int, high: int) -> int:
    """`value` as an int in [low, high], else `GoldenFormatError`."""
    if not _is_int(value) or not low <= value <= high:
        raise GoldenFormatError(f"{where} must be an integer in {low}..{high}, got {_show(value)}")
    return int(value)


def number(value: Any, where: str, low: float, high: float) -> float:
    """`value` as a finite float in [low, high], else `GoldenFormatError`."""
    ok = _is_number(value)
    if ok:
        try:
            x = float(value)
        except OverflowError:
            ok = False
        else:
            ok = math.isfinite(x) and low <= x <= high
    if not ok:
        raise GoldenFormatError(
            f"{where} must be a number in [{low:g}, {high:g}], got {_show(value)}"
        )
    return x


def _vector(value: Any, where: str, n: int | None) -> list[Any]:
    if not isinstance(value, list):
        raise GoldenFormatError(f"{where} must be a list, got {_show(value)}")
    if n is not None and len(value) != n:
        raise GoldenFormatError(f"{where} must have {n} entries (one per UID), got {len(value)}")
    return value


def stake_vector(value: Any, where: str, n: int | None) -> list[float]:
    """A list of finite, non-negative stakes (of length n when n is given)."""
    items = _vector(value, where, n)
    if not items:
        raise GoldenFormatError(f"{where} is empty: a subnet has at least one UID")
    if len(items) > MAX_NEURONS:
        raise GoldenFormatError(
            f"{where} has {len(items)} UIDs; a subnet has at most {MAX_NEURONS}"
        )
    return [number(v, f"{where}[{i}]", 0.0, MAX_STAKE) for i, v in enumerate(items)]


def permit_vector(value: Any, where: str, n: int) -> list[bool]:
    """A list of n booleans."""
    items = _vector(value, where, n)
    for i, v in enumerate(items):
        if not isinstance(v, bool):
            raise GoldenFormatError(f"{where}[{i}] must be true or false, got {_show(v)}")
    return items


def weight_matrix(value: Any, where: str, n: int) -> None:
    """An n x n list of finite, non-negative weights."""
    rows = _vector(value, where, n)
    for i, row in enumerate(rows):
        for j, v in enumerate(_vector(row, f"{where}[{i}]", n)):
            number(v, f"{where}[{i}][{j}]", 0.0, MAX_WEIGHT)


def block_vector(value: Any, where: str, n: int) -> None:
    """A list of n block numbers."""
    for i, v in enumerate(_vector(value, where, n)):
        integer(v, f"{where}[{i}]", 0, MAX_BLOCK)


def check_params(params: Any, n: int) -> None:
    """The `params` object: types and the ranges the chain enforces."""
    if not isinstance(params, Mapping):
        raise GoldenFormatError(f"params must be an object, got {_show(params)}")
    p = {k: v for k, v in params.items() if v is not None or k == "owner_uid"}
    if "kappa" in p:
        number(p["kappa"], "params.kappa", 0.0, 1.0)
    if "kappa_u16" in p:
        integer(p["kappa_u16"], "params.kappa_u16", 0, U16_MAX)
    if "bonds_moving_average" in p:
        number(p["bonds_moving_average"], "params.bonds_moving_average", 0.0, 1_000_000.0)
    if "bonds_penalty" in p:
        number(p["bonds_penalty"], "params.bonds_penalty", 0.0, 1.0)
    if "bonds_penalty_u16" in p:
        integer(p["bonds_penalty_u16"], "params.bonds_penalty_u16", 0, U16_MAX)
    if "yuma_version" in p and p["yuma_version"] not in YUMA_VERSIONS:
        raise GoldenFormatError(
            f"params.yuma_version must be one of {', '.join(YUMA_VERSIONS)}, "
            f"got {_show(p['yuma_version'])}"
        )
    if p.get("liquid_alpha", False) is not False:
        raise GoldenFormatError("params.liquid_alpha: only false is supported")
    if "max_allowed_validators" in p:
        integer(p["max_allowed_validators"], "params.max_allowed_validators", 0, U16_MAX)
    if "stake_threshold" in p:
        number(p["stake_threshold"], "params.stake_threshold", 0.0, MAX_STAKE)
    if p.get("owner_uid") is not None:
        integer(p["owner_uid"], "params.owner_uid", 0, n - 1)
    if "activity_cutoff_blocks" in p:
        integer(p["activity_cutoff_blocks"], "params.activity_cutoff_blocks", 0, U16_MAX)
    if "tempo" in p:
        integer(p["tempo"], "params.tempo", 1, U16_MAX)


def check_epoch(ep: Any, t: int, n: int) -> None:
    """One entry of `epochs`: its `W`, an optional `stake` and the optional block data."""
    where = f"epochs[{t}]"
    if not isinstance(ep, Mapping):
        raise GoldenFormatError(f"{where} must be an object, got {_show(ep)}")
    if "W" not in ep:
        raise GoldenFormatError(f"{where} has no W")
    weight_matrix(ep["W"], f"{where}.W", n)
    if "stake" in ep:
        stake_vector(ep["stake"], f"{where}.stake", n)
    if "current_block" in ep:
        integer(ep["current_block"], f"{where}.current_block", 0, MAX_BLOCK)
        for name in ("last_update", "block_at_registration"):
            if name not in ep:
                raise GoldenFormatError(f"{where} has current_block but no {name}")
            block_vector(ep[name], f"{where}.{name}", n)
        last = ep.get("last_mechanism_step_block")
        if last is not None:
            integer(last, f"{where}.last_mechanism_step_block", 0, MAX_BLOCK)


def check_document(doc: Any) -> int:
    """Check a whole document; return n, its number of UIDs."""
    if not isinstance(doc, Mapping):
        raise GoldenFormatError("the document must be a JSON object")
    for key in ("params", "stake", "validator_permit", "epochs"):
        if key not in doc:
            raise GoldenFormatError(f"missing {key!r}")
    n = len(stake_vector(doc["stake"], "stake", None))
    check_params(doc["params"], n)
    permit_vector(doc["validator_permit"], "validator_permit", n)
    epochs = doc["epochs"]
    if not isinstance(epochs, list):
        raise GoldenFormatError(f"epochs must be a list, got {_show(epochs)}")
    for t, ep in enumerate(epochs):
        check_epoch(ep, t, n)
    return n


__all__ = [
    "MAX_BLOCK",
    "MAX_NEURONS",
    "MAX_STAKE",
    "MAX_WEIGHT",
    "U16_MAX",
    "YUMA_VERSIONS",
    "GoldenFormatError",
    "check_document",
    "check_epoch",
    "check_params",
    "integer",
    "number",
]
