"""Quiet logs: repeats collapse into bounded summaries; cycle id and step on every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from minertrace.observe.context import cycle_scope, step
from minertrace.observe.logs import FailureGate, RepeatFilter, make_handler


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("minertrace.test_quiet")
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)


def _capture(log: logging.Logger, fmt: str = "text", clock: FakeClock | None = None) -> io.StringIO:
    out = io.StringIO()
    handler = make_handler(fmt, stream=out)
    if clock is not None:
        for f in handler.filters:
            assert isinstance(f, RepeatFilter)
            f.clock = clock
    log.addHandler(handler)
    return out


def test_a_repeating_warning_logs_once_then_summaries(logger: logging.Logger) -> None:
    clock = FakeClock()
    out = _capture(logger, clock=clock)
    for i in range(1000):  # 1000 failures over 125 s
        clock.t += 0.125
        try:
            raise ConnectionError(f"server closed the connection ({i})")
        except ConnectionError:
            logger.exception("trace of the cycle computed at %s not written", i)
    lines = out.getvalue().splitlines()
    tracebacks = [ln for ln in lines if ln.startswith("Traceback")]
    assert len(tracebacks) == 1
    messages = [ln for ln in lines if ln.startswith("ERROR")]
    # the first, then one summary per 60 s interval, each counting the lines it stands for
    assert len(messages) == 3
    assert "repeated 480 times in the last 60 s" in messages[1]
    assert "repeated 480 times in the last 60 s" in messages[2]


def test_held_back_records_are_demoted_to_debug_with_their_traceback(
    logger: logging.Logger,
) -> None:
    logger.setLevel(logging.DEBUG)
    clock = FakeClock()
    out = _capture(logger, clock=clock)
    for _ in range(3):
        try:
            raise OSError("down")
        except OSError:
            logger.exception("flush failed")
    lines = out.getvalue().splitlines()
    assert [ln.split()[0] for ln in lines if not ln.startswith((" ", "Traceback", "OSError"))] == [
        "ERROR",
        "DEBUG",
        "DEBUG",
    ]
    assert sum(ln.startswith("Traceback") for ln in lines) == 3


def test_different_messages_and_info_lines_are_not_throttled(logger: logging.Logger) -> None:
    out = _capture(logger, clock=FakeClock())
    for _ in range(5):
        logger.info("cycle done")
        logger.warning("first problem")
        logger.warning("second problem")
    lines = out.getvalue().splitlines()
    assert sum("cycle done" in ln for ln in lines) == 5
    assert sum("first problem" in ln for ln in lines) == 1
    assert sum("second problem" in ln for ln in lines) == 1


def test_failure_gate_start_summary_end(logger: logging.Logger) -> None:
    clock = FakeClock()
    out = _capture(logger, clock=clock)
    gate = FailureGate("database unreachable", logger, summary_interval=30.0, clock=clock)
    logged = []
    for _ in range(200):  # 200 failures, one every 0.5 s = 100 s
        clock.t += 0.5
        logged.append(gate.failed("connection refused"))
    assert gate.failing
    clock.t += 1
    assert gate.ok() and not gate.failing
    assert not gate.ok()
    lines = out.getvalue().splitlines()
    assert sum(logged) == 4  # the start and a summary every 30 s
    assert lines[0].startswith("ERROR") and "connection refused" in lines[0]
    assert "still failing after 30 s" in lines[1]
    assert lines[-1].startswith("INFO") and "recovered after 100 s (200 failures)" in lines[-1]
    assert len(lines) == 5


def test_json_lines_carry_cycle_id_and_step(logger: logging.Logger) -> None:
    out = _capture(logger, "json")
    logger.info("outside")
    with cycle_scope(42):
        logger.info("cycle starts")
        with step("read"):
            logger.info("reading %d rows", 3)
    records = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert [(r["cycle_id"], r["step"]) for r in records] == [
        (None, None),
        ("42", None),
        ("42", "read"),
    ]
    assert records[2]["message"] == "reading 3 rows" and records[2]["level"] == "INFO"


def test_text_lines_name_the_cycle(logger: logging.Logger) -> None:
    out = _capture(logger)
    with cycle_scope(7), step("submit"):
        logger.warning("rejected")
    assert out.getvalue().strip() == "WARNING minertrace.test_quiet: [cycle 7 submit] rejected"


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        make_handler("xml")


def test_configure_logging_replaces_only_plain_stream_handlers() -> None:
    from minertrace.observe.logs import StderrHandler, configure_logging

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    plain = logging.StreamHandler(io.StringIO())
    other = logging.FileHandler("/dev/null")
    try:
        root.handlers[:] = [plain, other]
        first = configure_logging("WARNING", "json")
        second = configure_logging("INFO", "text")
        assert root.handlers == [other, second] and first not in root.handlers
        assert isinstance(second, StderrHandler) and root.level == logging.INFO
    finally:
        other.close()
        root.handlers[:] = saved
        root.setLevel(level)
