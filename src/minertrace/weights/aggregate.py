"""Score rows → one score per UID and task (spec §3).

weather: the first row only, missing → 0; geomagnetic: plain mean over rows, missing → 0;
soil: half-life decay in float32 with numpy's pairwise order, and a completeness factor.
A task whose list is empty stays NaN (weather, soil) or 0 (geomagnetic), i.e. absent.
An aggregated score that is not finite is absent too (:func:`finite_or_missing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.config import WeightConfig
from minertrace.weights.numerics import pairwise_sum_padded

F64 = NDArray[np.float64]
_LN2 = 0.6931471805599453
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class SoilDetail:
    """Per-UID intermediate values of the soil aggregation."""

    row_count: int
    counts: NDArray[np.intp]
    base: F64
    completeness: F64
    row_weights: NDArray[np.float32]


def weather_scores(rows: NDArray[np.float64], n_uids: int) -> F64:
    """Weather: row 0 only (newest final, else newest initial); missing → 0; no rows → NaN."""
    if rows.shape[0] == 0:
        return np.full(n_uids, np.nan)
    first = rows[0]
    return np.where(np.isnan(first), 0.0, first)


def geomagnetic_scores(rows: NDArray[np.float64], n_uids: int) -> F64:
    """Geomagnetic: per-UID mean over every row, missing counted as 0; no rows → 0."""
    count = rows.shape[0]
    if count == 0:
        return np.zeros(n_uids)
    # Reducing along the contiguous axis runs np.sum's pairwise kernel once per UID.
    filled = np.ascontiguousarray(np.where(np.isnan(rows), 0.0, rows).T)
    totals = np.add.reduce(filled, axis=1)
    return np.asarray(totals / count, dtype=np.float64)


def row_ages_days(created: Sequence[datetime], now: datetime) -> F64:
    """Age of each row in days, as timedelta.total_seconds() / 86400."""
    micros = np.array([(now - ts) // _ONE_MICROSECOND for ts in created], dtype=np.float64)
    return np.asarray(micros / 1e6 / 86400.0, dtype=np.float64)


def soil_scores(
    rows: NDArray[np.float64], ages_days: F64, config: WeightConfig
) -> tuple[F64, SoilDetail]:
    """Soil: decay-weighted float32 mean of each UID's non-zero entries, times completeness."""
    count, n_uids = rows.shape
    if count == 0:
        empty = np.full(n_uids, np.nan)
        detail = SoilDetail(
            0, np.zeros(n_uids, dtype=np.intp), empty, empty, np.zeros(0, dtype=np.float32)
        )
        return empty, detail
    rate = _LN2 / config.soil_half_life_days
    decay = np.exp(-(ages_days * rate))
    w32 = decay.astype(np.float32)
    # UID-major, so that each UID's rows are contiguous and in list order, behind a 0.0
    # column (the layout pairwise_sum_padded reads). Missing entries stay NaN: |NaN| > 0 is
    # false, so they are not selected, and their products are never read.
    s32 = np.zeros((n_uids, count + 1), dtype=np.float32)
    s32[:, 1:] = rows.astype(np.float32).T
    take = np.abs(s32) > 0
    take[:, 0] = True
    counts = np.count_nonzero(take, axis=1).astype(np.intp) - 1
    w_padded = np.zeros(count + 1, dtype=np.float32)
    w_padded[1:] = w32
    wsum = pairwise_sum_padded(np.broadcast_to(w_padded, s32.shape), take)
    psum = pairwise_sum_padded(s32 * w_padded, take)

    ok = (counts > 0) & (wsum > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base32 = np.where(ok, psum / np.where(ok, wsum, np.float32(1)), np.float32(0))
    base = base32.astype(np.float32).astype(np.float64)
    ratio = counts / max(count, 1)
    threshold = config.soil_completeness_threshold
    factor = np.where(
        ratio >= threshold, 1.0, np.power(ratio / threshold, config.soil_completeness_exponent)
    )
    soil = np.where(ratio >= threshold, base, base * factor)
    soil = np.where(ok, soil, 0.0)
    detail = SoilDetail(count, counts, base, factor, w32)
    return np.asarray(soil, dtype=np.float64), detail


def finite_or_missing(scores: F64, has_rows: bool) -> tuple[F64, int]:
    """The aggregated scores with every non-finite value made missing (NaN), and their count.

    Parsing has already made ±inf and NaN entries missing (D4), so a non-finite aggregate comes
    only from absurd finite entries whose mean or decayed sum overflows (or from the float32
    soil step, where anything above ~3.4e38 is inf). D4 extends to such a score: it is missing,
    never a NaN or inf that would poison the task's statistics. A task without rows is NaN by
    design and counts nothing.
    """
    if not has_rows:
        return scores, 0
    bad = ~np.isfinite(scores)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return scores, 0
    return np.where(bad, np.nan, scores), count
