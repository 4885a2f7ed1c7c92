"""What a validator hands the `Recorder`, turned into the rows `store.recorded` writes.

Pure: numpy and JSON only. Bad input raises ValueError with a one-line message; the
`Recorder` catches it, logs it and counts it, so it never reaches the validator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.store.recorded import (
    MINER_COLUMNS,
    RecordedCycle,
    RecordedMiners,
    RecordedSubmission,
)
from minertrace.vocabulary import SCORING_PATHWAYS, SubmissionStatus
from minertrace.weights.jsonsafe import finite_or_null

F64 = NDArray[np.float64]
U16_MAX = 65535
CUSTOM_RULES = "custom"


def json_text(value: Any) -> str:
    """Strict JSON text: non-finite floats as null."""
    return json.dumps(finite_or_null(value), allow_nan=False)


def _json_vector(values: NDArray[Any]) -> list[Any]:
    if values.dtype.kind == "f":
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return list(out.tolist())
    return list(values.tolist())


def weight_vector(
    weights: Mapping[int, float] | Sequence[float] | NDArray[Any],
    uids: Sequence[int] | NDArray[Any] | None = None,
    n_uids: int | None = None,
) -> F64:
    """Final weights per UID as one float64 vector (UIDs not given: 0).

    ``weights`` is a {uid: weight} mapping, a vector indexed by UID, or values aligned with
    ``uids``. ``n_uids`` extends the vector to the subnet's size.
    """
    if isinstance(weights, Mapping):
        uids = list(weights.keys())
        weights = list(weights.values())
    try:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"weights are not numbers: {exc}") from None
    if uids is None:
        u = np.arange(w.shape[0], dtype=np.int64)
    else:
        try:
            u = np.asarray(uids, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"uids are not integers: {exc}") from None
        if u.shape != w.shape:
            raise ValueError(f"uids and weights differ in length: {u.size} != {w.size}")
    if u.size and u.min() < 0:
        raise ValueError("uids must be >= 0")
    if np.unique(u).size != u.size:
        raise ValueError("uids must not repeat")
    n = max(int(u.max()) + 1 if u.size else 0, int(n_uids or 0))
    out = np.zeros(n)
    out[u] = w
    return out


def build_cycle(
    final: F64,
    *,
    validator_hotkey: str,
    netuid: int,
    computed_at: datetime,
    computed_block: int | None,
    stages: Mapping[str, Any] | None,
    scalars: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    score_rows: Sequence[Mapping[str, Any]] | None,
    rules: str,
    overhead_s: float | None,
) -> tuple[RecordedCycle, list[str]]:
    """The weight_submissions row; returns it and the names of stages left out (bad length)."""
    if computed_at.utcoffset() is None:
        raise ValueError("computed_at must be timezone-aware")
    n = final.shape[0]
    vectors: dict[str, list[Any]] = {}
    dropped: list[str] = []
    for name, values in (stages or {}).items():
        vec = np.asarray(values)
        if vec.ndim != 1 or vec.shape[0] != n or vec.dtype.kind not in "biuf":
            dropped.append(str(name))
            continue
        vectors[str(name)] = _json_vector(vec)
    vectors["final"] = _json_vector(final)
    positive = bool(np.any(final > 0))
    all_scalars = {**dict(scalars or {}), "rules": rules, "recorded": True}
    cycle = RecordedCycle(
        validator_hotkey=validator_hotkey,
        netuid=netuid,
        computed_at=computed_at,
        computed_block=computed_block,
        n_uids=n,
        config_json=json_text(dict(config or {})),
        score_rows_json=json_text([dict(r) for r in score_rows or []]),
        scalars_json=json_text(all_scalars),
        data_quality_json="{}",
        stages_json=json.dumps(vectors, allow_nan=False),
        weights_produced=positive,
        no_weights_reason=None if positive else "all_zero",
        final_weights=_json_vector(final),
        status=SubmissionStatus.COMPUTED.value,
        trace_overhead_s=overhead_s,
    )
    return cycle, dropped


def build_miners(
    final: F64,
    miners: Mapping[int, Mapping[str, Any]] | None,
    hotkeys: Sequence[str | None] | None,
) -> RecordedMiners:
    """The stats rows: every UID in ``miners`` and every UID with a positive weight.

    ``submitted_weight`` is the final weight over the sum of the final weights; the keys of a
    miner's mapping named in ``MINER_COLUMNS`` go to their columns, every other key (and a
    ``scoring_pathway`` that is not a pathway) to ``pathway_details``. Only the given miners'
    mappings are visited one by one; everything else is array work.
    """
    n = final.shape[0]
    given = miners or {}
    bad = [u for u in given if not isinstance(u, (int, np.integer)) or not 0 <= u < n]
    if bad:
        raise ValueError(f"miner details for UIDs outside the weight vector: {bad[:10]}")
    given_uids = np.fromiter((int(u) for u in given), dtype=np.int64, count=len(given))
    uids = np.union1d(np.flatnonzero(final > 0), given_uids)
    total = float(np.sum(np.where(final > 0, final, 0.0)))
    share = final[uids] / total if total > 0 else np.zeros(uids.size)
    columns: dict[str, list[Any]] = {"submitted_weight": share.tolist()}
    details = np.full(uids.size, None, dtype=object)
    if given:
        at = np.searchsorted(uids, given_uids)
        values = {name: np.full(uids.size, None, dtype=object) for name in MINER_COLUMNS}
        for pos, entry in zip(at.tolist(), given.values(), strict=True):
            extra = {k: v for k, v in entry.items() if k not in MINER_COLUMNS}
            for name in MINER_COLUMNS.keys() & entry.keys():
                values[name][pos] = _column_value(name, entry[name], extra)
            details[pos] = json_text(extra) if extra else None
        for name, column in values.items():
            if name != "submitted_weight" and any(v is not None for v in column):
                columns[name] = column.tolist()
    hot = np.full(uids.size, None, dtype=object)
    if hotkeys is not None and len(hotkeys):
        known = np.asarray(list(hotkeys), dtype=object)
        inside = uids < known.size
        hot[inside] = known[uids[inside]]
    return RecordedMiners(
        uids=uids.tolist(), hotkeys=hot.tolist(), columns=columns, details=details.tolist()
    )


def _column_value(name: str, value: Any, extra: dict[str, Any]) -> Any:
    if name != "scoring_pathway":
        return _number(value, name)
    if value is not None and str(value) in SCORING_PATHWAYS:
        return str(value)
    extra["scoring_pathway_given"] = value
    return None


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"miner detail {name} must be a number, got {value!r}")
    x = float(value)
    return x if np.isfinite(x) else None


def build_submission(
    uids: Sequence[int] | NDArray[Any],
    u16: Sequence[int] | NDArray[Any],
    *,
    block: int | None,
    block_hash: str | None,
    error: str | None,
    at: datetime,
    attempts: list[dict[str, Any]],
) -> RecordedSubmission:
    """The submission columns: status ``included`` with a block, ``failed`` with an error,
    else ``submitting`` (sent, fate unknown). The attempt is appended to ``attempts``."""
    try:
        u = np.asarray(uids, dtype=np.int64).reshape(-1)
        v = np.asarray(u16, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"uids and u16 must be integers: {exc}") from None
    if u.shape != v.shape:
        raise ValueError(f"uids and u16 differ in length: {u.size} != {v.size}")
    if u.size and (u.min() < 0 or v.min() < 0 or v.max() > U16_MAX):
        raise ValueError("uids must be >= 0 and u16 values in 0..65535")
    order = np.argsort(u, kind="stable")
    u, v = u[order], v[order]
    total = float(v.sum())
    weights = (v / total).tolist() if total > 0 else [0.0] * int(v.size)
    if block is not None:
        status = SubmissionStatus.INCLUDED
    elif error is not None:
        status = SubmissionStatus.FAILED
    else:
        status = SubmissionStatus.SUBMITTING
    attempt: dict[str, Any] = {
        "attempt": len(attempts) + 1,
        "at": at.isoformat(),
        "status": status.value,
        "block_number": block,
        "error": error,
        "recorded": True,
    }
    return RecordedSubmission(
        status=status.value,
        uids=u.tolist(),
        u16=v.tolist(),
        weights=weights,
        attempts_json=json_text([*attempts, attempt]),
        error=error,
        block_number=block,
        block_hash=block_hash,
    )
