"""Shadow mode's comparison: the u16 row a validator set on chain against a trace.

Pure numpy. :func:`compare_u16` says whether two u16 rows are equal and, when they are not,
which UIDs differ and by how much (in u16 units and in share of the row). :func:`trace_at`
picks the trace that was current when the chain recorded a weight update: the latest one
computed at or before that block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class U16Comparison:
    """Expected (the trace) against observed (the chain), UID by UID.

    ``differing_uids`` ascending; for each of them ``expected``/``observed`` are the u16
    values (0 when absent) and ``share_diff`` is observed share minus expected share (each
    row's values over its sum). ``l1_share_diff`` sums the absolute share differences over
    every UID (0 = same proportions, 2 = disjoint rows).
    """

    match: bool
    differing_uids: list[int]
    expected: list[int]
    observed: list[int]
    share_diff: list[float]
    max_abs_u16_diff: int
    l1_share_diff: float

    def to_dict(self, limit: int = 256) -> dict[str, Any]:
        """JSON-safe form (at most ``limit`` differing UIDs listed; the count is always kept)."""
        return {
            "match": self.match,
            "differing_count": len(self.differing_uids),
            "differing_uids": self.differing_uids[:limit],
            "expected_u16": self.expected[:limit],
            "observed_u16": self.observed[:limit],
            "share_diff": self.share_diff[:limit],
            "max_abs_u16_diff": self.max_abs_u16_diff,
            "l1_share_diff": self.l1_share_diff,
        }


def _dense(row: Mapping[int, int], uids: I64) -> I64:
    keys = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
    vals = np.fromiter(row.values(), dtype=np.int64, count=len(row))
    out = np.zeros(uids.shape[0], dtype=np.int64)
    out[np.searchsorted(uids, keys)] = vals
    return out


def compare_u16(expected: Mapping[int, int], observed: Mapping[int, int]) -> U16Comparison:
    """Compare two u16 rows given as {uid: u16} (zero entries count as absent)."""
    exp = {int(u): int(v) for u, v in expected.items() if v}
    obs = {int(u): int(v) for u, v in observed.items() if v}
    uids = np.union1d(np.fromiter(exp, dtype=np.int64), np.fromiter(obs, dtype=np.int64))
    e, o = _dense(exp, uids), _dense(obs, uids)
    e_share = e / e.sum() if e.sum() > 0 else np.zeros(uids.shape[0])
    o_share = o / o.sum() if o.sum() > 0 else np.zeros(uids.shape[0])
    diff = e != o
    return U16Comparison(
        match=not bool(diff.any()),
        differing_uids=uids[diff].tolist(),
        expected=e[diff].tolist(),
        observed=o[diff].tolist(),
        share_diff=(o_share - e_share)[diff].tolist(),
        max_abs_u16_diff=int(np.abs(o - e).max()) if uids.size else 0,
        l1_share_diff=float(np.abs(o_share - e_share).sum()),
    )


def trace_at(computed_blocks: Sequence[int] | I64, block: int) -> int | None:
    """Index of the trace current at ``block``: the latest computed at or before it.

    ``computed_blocks`` must be ascending; None when every trace is newer than ``block``.
    """
    blocks = np.asarray(computed_blocks, dtype=np.int64)
    i = int(np.searchsorted(blocks, block, side="right")) - 1
    return i if i >= 0 else None
