"""Quiet logs: repeating failures collapse, and every line of a cycle names the cycle and step.

A 20-second database outage once produced about 20,000 lines and 359 tracebacks, because every
step that touches the database logs its own failure on every pass. Two pieces keep that down:

- `FailureGate` (used by the service loop for the failures it can name: database down, chain
  unreachable): one line when the failure starts, a summary with a count at most every
  `summary_interval` seconds while it lasts, one line when it ends;
- `RepeatFilter` (installed on the handlers by `configure_logging`): any WARNING-or-worse
  message template that repeats within `interval` seconds is held back; the next one after the
  interval goes out with "(repeated N times in the last S s)". A held-back record is not
  lost when DEBUG is on: it is demoted to DEBUG, traceback included, so the full traceback is
  logged once at its level and at debug level after that.

`JsonFormatter` writes one JSON object per line with `cycle_id` and `step` (from
`minertrace.observe.context`); `TextFormatter` prefixes the same as `[cycle 12 read]`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TextIO

from minertrace.observe.context import current

LOG_FORMATS = ("text", "json")
DEFAULT_SUMMARY_INTERVAL = 60.0

Monotonic = Callable[[], float]
_GATED = "minertrace_gated"
"""Set on a `FailureGate`'s own lines: they are already throttled."""


@dataclass
class _Repeat:
    first: float
    last_emitted: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Hold back WARNING+ records whose (logger, message template) repeats within `interval`.

    A template not seen for `interval` seconds counts as new again. Below WARNING nothing is
    touched. `clock` is monotonic seconds (injectable for tests).
    """

    def __init__(
        self, interval: float = DEFAULT_SUMMARY_INTERVAL, clock: Monotonic = time.monotonic
    ):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple[str, str], _Repeat] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """False to drop the record; may demote it to DEBUG or add a repeat count."""
        if record.levelno < logging.WARNING or getattr(record, _GATED, False):
            return True
        now = self.clock()
        key = (record.name, str(record.msg))
        rep = self._seen.get(key)
        if rep is None or (now - rep.last_emitted > 2 * self.interval and rep.suppressed == 0):
            self._seen[key] = _Repeat(now, now)
            return True
        if now - rep.last_emitted >= self.interval:
            if rep.suppressed:
                record.msg = f"{record.msg} (repeated {rep.suppressed + 1} times in the last " + (
                    f"{now - rep.last_emitted:.0f} s)"
                )
            rep.last_emitted = now
            rep.suppressed = 0
            # The traceback was logged in full when the failure started.
            if record.exc_info and logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
                return _demote(record)
            record.exc_info = None
            record.exc_text = None
            return True
        rep.suppressed += 1
        if logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return _demote(record)
        return False


def _demote(record: logging.LogRecord) -> bool:
    record.levelno = logging.DEBUG
    record.levelname = logging.getLevelName(logging.DEBUG)
    return True


@dataclass
class FailureGate:
    """One named failure that may repeat: log its start, periodic summaries, and its end.

    `failed(reason)` on every failing attempt, `ok()` on every success. Returns whether a line
    was logged (for tests). The first failure logs at ERROR with the traceback when `exc_info`
    is given; repeats log nothing but a summary every `summary_interval` seconds; the first
    success after failures logs one INFO line with the count and duration.
    """

    name: str
    log: logging.Logger
    summary_interval: float = DEFAULT_SUMMARY_INTERVAL
    clock: Monotonic = time.monotonic
    failures: int = 0
    _since: float | None = None
    _last_line: float = 0.0
    _since_summary: int = 0
    _reason: str = field(default="")

    @property
    def failing(self) -> bool:
        """True between the first failure and the next success."""
        return self._since is not None

    def failed(self, reason: str, *, exc_info: BaseException | None = None) -> bool:
        """Count one failure; log it if it starts the failure or a summary is due."""
        now = self.clock()
        self.failures += 1
        self._reason = reason
        if self._since is None:
            self._since = self._last_line = now
            self._since_summary = 0
            self.log.error("%s: %s", self.name, reason, exc_info=exc_info, extra={_GATED: True})
            return True
        self._since_summary += 1
        if exc_info is not None:
            self.log.debug("%s (again): %s", self.name, reason, exc_info=exc_info)
        if now - self._last_line >= self.summary_interval:
            self.log.warning(
                "%s: still failing after %.0f s (%d failures in the last %.0f s); last: %s",
                self.name,
                now - self._since,
                self._since_summary,
                now - self._last_line,
                reason,
                extra={_GATED: True},
            )
            self._last_line = now
            self._since_summary = 0
            return True
        return False

    def ok(self) -> bool:
        """A success; logs the end of the failure if one was going on."""
        if self._since is None:
            return False
        now = self.clock()
        self.log.info(
            "%s: recovered after %.0f s (%d failures)",
            self.name,
            now - self._since,
            self.failures,
            extra={_GATED: True},
        )
        self._since = None
        self.failures = 0
        return True


def _context_fields(record: logging.LogRecord) -> tuple[str | None, str | None]:
    cycle_id, step_name = current()
    return (
        getattr(record, "cycle_id", None) or cycle_id,
        getattr(record, "step", None) or step_name,
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO), level, logger, message, cycle_id, step,
    and `exc` (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        cycle_id, step_name = _context_fields(record)
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "cycle_id": cycle_id,
            "step": step_name,
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: [cycle 12 read] message` (the bracket only inside a cycle)."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(context)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one text line (plus its traceback)."""
        cycle_id, step_name = _context_fields(record)
        parts = [p for p in (f"cycle {cycle_id}" if cycle_id else None, step_name) if p]
        record.context = f"[{' '.join(parts)}] " if parts else ""
        return super().format(record)


class StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is when a record is emitted (not when it was made),
    so a handler installed under a redirected stderr never writes to a closed stream."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted record and a newline."""
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def make_handler(
    fmt: str = "text",
    *,
    interval: float = DEFAULT_SUMMARY_INTERVAL,
    stream: TextIO | None = None,
) -> logging.Handler:
    """A handler on stderr (or `stream`) with the formatter of `fmt` and a `RepeatFilter`."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    handler: logging.Handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RepeatFilter(interval))
    return handler


def configure_logging(
    level: str = "INFO", fmt: str = "text", *, interval: float = DEFAULT_SUMMARY_INTERVAL
) -> logging.Handler:
    """Put one `make_handler(fmt)` on the root logger at `level`, in place of the plain
    stream handler `logging.basicConfig` installs (and of an earlier one of ours); handlers
    of other kinds (a test harness's, a file handler) stay."""
    handler = make_handler(fmt, interval=interval)
    root = logging.getLogger()
    for old in list(root.handlers):
        if type(old) in (logging.StreamHandler, StderrHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
