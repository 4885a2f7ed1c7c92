"""Synthetic miners: who they are, what they are good at, when they leave.

A `Population` is a set of column arrays (one entry per miner, miner i = the i-th miner
registered), built deterministically from a seed by `make_population`:

- every miner has a base skill in (0, 1) and a per-task skill around it;
- most miners take all three tasks, some one or two (`participates`);
- some belong to coldkey clusters (hotkeys of one owner; their skills are alike, as one
  operator tends to run one model): by default a cluster of 5 and, with enough miners, one
  of 11 (the coldkey smoothing zeroes groups of 10 or more);
- some drop out at a time inside the run (`dropout_at`, seconds from the start);
- each has a failure rate: the share of its attempted runs that score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from minertrace.weights.config import TASKS, WeightConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

CLUSTER_SIZES = (5, 11)
"""Coldkey clusters, each made only when at least `4 x size` miners exist."""
DROPOUT_SHARE = 0.08
SINGLE_TASK_SHARE = 0.2
TWO_TASK_SHARE = 0.15


@dataclass
class Population:
    """Column arrays of the miners (index = miner, not UID)."""

    hotkeys: list[str]
    coldkeys: list[str]
    skill: FloatArray
    """(n, 3) true skill per task in TASKS order (weather, geomagnetic, soil), in (0, 1)."""
    participates: npt.NDArray[np.bool_]
    """(n, 3) whether the miner takes each task."""
    fail_rate: FloatArray
    dropout_at: FloatArray
    """Seconds after the start at which the miner stops answering (inf = never)."""
    cluster: npt.NDArray[np.int64]
    """Coldkey cluster index (-1 = an independent miner)."""

    @property
    def n(self) -> int:
        """Number of miners."""
        return len(self.hotkeys)

    def active(self, elapsed_seconds: float) -> BoolArray:
        """Miners still answering `elapsed_seconds` after the start."""
        return np.asarray(self.dropout_at > elapsed_seconds, dtype=np.bool_)

    def quality(self, elapsed_seconds: float, config: WeightConfig | None = None) -> FloatArray:
        """True quality per miner: task skills weighted as the weight rules weight tasks.

        A task the miner does not take counts 0; a miner that dropped out has quality 0.
        This is what honest peer validators observe (with noise).
        """
        cfg = config or WeightConfig()
        weights = np.asarray(cfg.task_weights(), dtype=np.float64)
        q = (self.skill * self.participates) @ weights
        return np.where(self.active(elapsed_seconds), q, 0.0)

    def replace(self, index: int, hotkey: str, coldkey: str, rng: np.random.Generator) -> None:
        """Put a new, independent all-task miner in slot `index` (a hotkey replacement)."""
        self.hotkeys[index] = hotkey
        self.coldkeys[index] = coldkey
        base = float(rng.beta(2.0, 2.0))
        self.skill[index] = np.clip(base + 0.08 * rng.standard_normal(len(TASKS)), 0.05, 0.98)
        self.participates[index] = True
        self.fail_rate[index] = 0.03
        self.dropout_at[index] = np.inf
        self.cluster[index] = -1


def make_population(
    n_miners: int, seed: int, duration_seconds: float, *, prefix: str = "miner"
) -> Population:
    """Build `n_miners` miners deterministically from `seed` (see the module doc)."""
    if n_miners < 1:
        raise ValueError("n_miners must be positive")
    rng = np.random.default_rng([abs(seed), 0x51])
    n = n_miners
    base = rng.beta(2.0, 2.5, n)
    skill = np.clip(base[:, None] + 0.1 * rng.standard_normal((n, len(TASKS))), 0.02, 0.98)

    participates = np.ones((n, len(TASKS)), dtype=np.bool_)
    draw = rng.random(n)
    single = draw < SINGLE_TASK_SHARE
    double = (draw >= SINGLE_TASK_SHARE) & (draw < SINGLE_TASK_SHARE + TWO_TASK_SHARE)
    only = rng.integers(0, len(TASKS), n)
    participates[single] = False
    participates[single, only[single]] = True
    participates[double, only[double]] = False

    cluster = np.full(n, -1, dtype=np.int64)
    coldkeys = [f"{prefix}-coldkey-{i}" for i in range(n)]
    # Clusters take the last miners, so the first UIDs stay independent whatever the size.
    end = n
    for c, size in enumerate(s for s in CLUSTER_SIZES if n >= 4 * s):
        members = np.arange(end - size, end)
        end -= size
        cluster[members] = c
        farm_skill = rng.beta(3.0, 2.0)
        skill[members] = np.clip(
            farm_skill + 0.03 * rng.standard_normal((size, len(TASKS))), 0.02, 0.98
        )
        participates[members] = True
        for m in members.tolist():
            coldkeys[m] = f"{prefix}-farm-{c}"

    fail_rate = rng.uniform(0.0, 0.08, n)
    dropout_at = np.full(n, np.inf)
    independent = np.flatnonzero(cluster < 0)
    n_drop = min(len(independent), round(DROPOUT_SHARE * n))
    if n_drop:
        leaving = rng.choice(independent, size=n_drop, replace=False)
        dropout_at[leaving] = rng.uniform(0.2, 0.8, n_drop) * duration_seconds
    return Population(
        hotkeys=[f"{prefix}-{i}" for i in range(n)],
        coldkeys=coldkeys,
        skill=skill,
        participates=participates,
        fail_rate=fail_rate,
        dropout_at=dropout_at,
        cluster=cluster,
    )
