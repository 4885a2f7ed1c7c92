"""The cycle id and step of the code running now, in context variables.

`cycle_scope(cycle_id, metrics)` marks a weight cycle; inside it `step(name)` marks one of
its steps and, on exit, observes the step's duration in `metrics`. Both are context
variables, so they follow the cycle into `asyncio.to_thread` workers and every log line
written meanwhile can name them (`minertrace.observe.logs`). `time_queries(engine, metrics)`
times every statement the engine runs, labelled with the step running it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

from minertrace.observe.metrics import Metrics

cycle_id_var: ContextVar[str | None] = ContextVar("minertrace_cycle_id", default=None)
step_var: ContextVar[str | None] = ContextVar("minertrace_step", default=None)
_metrics_var: ContextVar[Metrics | None] = ContextVar("minertrace_metrics", default=None)

_START = "minertrace_query_start"


@contextmanager
def cycle_scope(cycle_id: str | int, metrics: Metrics | None = None) -> Iterator[None]:
    """Mark the code inside as cycle `cycle_id`; its steps are observed in `metrics`."""
    tokens = (cycle_id_var.set(str(cycle_id)), _metrics_var.set(metrics))
    try:
        yield
    finally:
        _metrics_var.reset(tokens[1])
        cycle_id_var.reset(tokens[0])


@contextmanager
def step(name: str) -> Iterator[None]:
    """Mark the code inside as step `name`; its duration is observed on exit (also on error)."""
    token = step_var.set(name)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        step_var.reset(token)
        metrics = _metrics_var.get()
        if metrics is not None:
            metrics.step_duration.labels(step=name).observe(elapsed)


def current() -> tuple[str | None, str | None]:
    """The (cycle id, step) of the running code; None outside a cycle or step."""
    return cycle_id_var.get(), step_var.get()


def time_queries(engine: Engine, metrics: Metrics) -> None:
    """Observe every statement `engine` runs in `minertrace_db_query_duration_seconds`.

    The label is the running step (`other` outside one), so the cycle's read queries show as
    `step="read"`. The listeners run in whichever thread executes the statement; the context
    variables travel there with `asyncio.to_thread`.
    """

    # The start time rides on the statement's own execution context, so a statement that
    # fails (and never reaches `after`) leaves nothing behind.
    def before(
        _conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any
    ) -> None:
        if context is not None:
            setattr(context, _START, time.perf_counter())

    def after(_conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any) -> None:
        start = getattr(context, _START, None)
        if start is not None:
            elapsed = time.perf_counter() - start
            metrics.query_duration.labels(step=step_var.get() or "other").observe(elapsed)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
