"""The simulated task schedule and the scores each task run produces.

Schedule (UTC, aligned to the clock, not to the start of the run):
- weather: a forecast run every 12 h (00:00, 12:00); its `initial_weather_scores_<run>` row
  arrives 3 h after the run (status 'pending'), its `final_weather_scores_<run>` row 9 h after
  (status 'completed');
- geomagnetic: one row per hour at HH:05 (status 'completed');
- soil moisture: `n_regions` regions, region k scored every 8 h at an offset of 1 h + 2 h x k
  (status 'completed').

Scores are pure functions of the population, the run and the seed: a miner that takes the task
and is still active answers with its skill plus task noise, clipped to (0, 1]; with its failure
rate it answers 0 (attempted, failed); otherwise it has no entry (NaN).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt

from minertrace.sim.population import Population
from minertrace.vocabulary import (
    FINAL_WEATHER_PREFIX,
    INITIAL_WEATHER_PREFIX,
    SCORE_TASK_GEOMAGNETIC,
    SCORE_TASK_WEATHER,
    SOIL_TASK_PREFIX,
)

FloatArray = npt.NDArray[np.float64]

WEATHER, GEOMAGNETIC, SOIL = 0, 1, 2
WEATHER_EVERY = timedelta(hours=12)
WEATHER_INITIAL_AFTER = timedelta(hours=3)
WEATHER_FINAL_AFTER = timedelta(hours=9)
GEOMAGNETIC_EVERY = timedelta(hours=1)
GEOMAGNETIC_OFFSET = timedelta(minutes=5)
SOIL_EVERY = timedelta(hours=8)
NOISE = {"initial": 0.12, "final": 0.05, "geomagnetic": 0.08, "soil": 0.1}


@dataclass(frozen=True)
class TaskRun:
    """One score row to write: which task, which run, when, with what status."""

    task_name: str
    task_id: str
    at: datetime
    status: str
    task: int
    """Index into TASKS (0 weather, 1 geomagnetic, 2 soil)."""
    noise: float


def _aligned(start: datetime, every: timedelta, offset: timedelta) -> datetime:
    """First instant `>= start` of the grid `midnight + offset + k * every`."""
    midnight = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + offset - every
    steps = max(0, int((start - first) // every))
    t = first + steps * every
    while t < start:
        t += every
    return t


def _grid(
    start: datetime, end: datetime, every: timedelta, offset: timedelta
) -> Iterator[datetime]:
    t = _aligned(start, every, offset)
    while t < end:
        yield t
        t += every


def runs_between(start: datetime, end: datetime, n_regions: int = 3) -> list[TaskRun]:
    """Every task run whose row is due in `[start, end)`, in time order."""
    runs: list[TaskRun] = []
    weather_kinds = (
        ("initial", INITIAL_WEATHER_PREFIX, WEATHER_INITIAL_AFTER),
        ("final", FINAL_WEATHER_PREFIX, WEATHER_FINAL_AFTER),
    )
    for kind, prefix, after in weather_kinds:
        for due in _grid(start, end, WEATHER_EVERY, after):
            run = (due - after).strftime("%Y%m%d%H")
            runs.append(
                TaskRun(
                    SCORE_TASK_WEATHER,
                    f"{prefix}_{run}",
                    due,
                    "completed" if kind == "final" else "pending",
                    WEATHER,
                    NOISE[kind],
                )
            )
    for due in _grid(start, end, GEOMAGNETIC_EVERY, GEOMAGNETIC_OFFSET):
        runs.append(
            TaskRun(
                SCORE_TASK_GEOMAGNETIC,
                f"geomagnetic_{due.strftime('%Y%m%d%H')}",
                due,
                "completed",
                GEOMAGNETIC,
                NOISE["geomagnetic"],
            )
        )
    for region in range(n_regions):
        offset = timedelta(hours=1 + 2 * region)
        for due in _grid(start, end, SOIL_EVERY, offset):
            runs.append(
                TaskRun(
                    f"{SOIL_TASK_PREFIX}{region}",
                    f"soil_{due.strftime('%Y%m%d%H')}",
                    due,
                    "completed",
                    SOIL,
                    NOISE["soil"],
                )
            )
    runs.sort(key=lambda r: (r.at, r.task_name, r.task_id))
    return runs


def run_rng(seed: int, run: TaskRun) -> np.random.Generator:
    """The generator of one run: independent of the order in which runs are produced."""
    key = zlib.crc32(f"{run.task_name}/{run.task_id}".encode())
    return np.random.default_rng([abs(seed), key])


def run_scores(
    population: Population,
    run: TaskRun,
    elapsed_seconds: float,
    rng: np.random.Generator,
) -> FloatArray:
    """Per-miner scores of `run` (NaN = no entry), for a run `elapsed_seconds` into the sim."""
    n = population.n
    noise = rng.standard_normal(n)
    fails = rng.random(n) < population.fail_rate
    value = np.clip(population.skill[:, run.task] + run.noise * noise, 0.001, 1.0)
    answers = population.participates[:, run.task] & population.active(elapsed_seconds)
    out = np.where(fails, 0.0, value)
    return np.where(answers, out, np.nan)
