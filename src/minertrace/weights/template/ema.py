"""The template's moving average of rewards per UID, and the state it carries.

The template validator keeps ``scores`` (float32, one per UID, zeros at start). Each forward
step scatters the step's rewards into a vector of zeros (UIDs not queried get 0, NaN rewards
become 0) and sets ``scores = alpha * rewards + (1 - alpha) * scores``. A UID whose hotkey
changed has its score reset to 0; a subnet that grew gets zeros for its new UIDs.

Here each score row is one forward step (its entries are the rewards; missing entries are
UIDs not queried), folded in (created_at, task_name, task_id) order. A row with no entry at
all is a step that queried nobody: the template skips it, so does this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.inputs import ScoreRow

F32 = NDArray[np.float32]
RowKey = tuple[str, str, str]


def row_key(row: ScoreRow) -> RowKey:
    """The order in which rows are folded: (created_at UTC ISO, task_name, task_id)."""
    return (_iso(row.created_at), row.task_name, row.task_id or "")


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def carried_scores(previous: NDArray[np.floating] | None, n: int) -> F32:
    """The previous cycle's scores at this cycle's size: NaN as 0, zeros for new UIDs."""
    out = np.zeros(n, dtype=np.float32)
    if previous is not None and previous.size:
        m = min(n, previous.shape[0])
        out[:m] = np.nan_to_num(previous[:m].astype(np.float32), nan=0.0)
    return out


def hotkey_resets(
    previous: Sequence[str | None], current: Sequence[str | None], n: int
) -> NDArray[np.bool_]:
    """UIDs whose hotkey differs from the one the previous cycle saw (nothing to compare:
    no reset)."""
    m = min(n, len(previous), len(current))
    before = np.asarray(list(previous[:m]), dtype=object)
    now = np.asarray(list(current[:m]), dtype=object)
    out = np.zeros(n, dtype=bool)
    out[:m] = (before != None) & (before != now)  # noqa: E711 (elementwise)
    return out


def fold(scores: F32, rewards: NDArray[np.float64], alpha: float) -> F32:
    """Apply one EMA step per row of ``rewards`` (rows, n) in order; returns new scores."""
    s: F32 = scores.copy()
    for step in rewards:
        s = np.asarray(alpha * step.astype(np.float32) + (1 - alpha) * s, dtype=np.float32)
    return s
