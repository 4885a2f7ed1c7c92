"""Operating minertrace: Prometheus metrics, their exporter, the health probe, quiet logs."""

from minertrace.observe.context import cycle_scope, step, time_queries
from minertrace.observe.exporter import (
    DEFAULT_HOST,
    ExporterError,
    MetricsApp,
    MetricsServer,
    mount_metrics,
    start_exporter,
)
from minertrace.observe.logs import (
    LOG_FORMATS,
    FailureGate,
    JsonFormatter,
    RepeatFilter,
    TextFormatter,
    configure_logging,
    make_handler,
)
from minertrace.observe.metrics import STEPS, Metrics
from minertrace.observe.observer import ServiceObserver, score_windows
from minertrace.observe.probe import DbHealth, HealthProbe, expected_max_rows
from minertrace.observe.standalone import ProbingCollector, probing_registry

__all__ = [
    "DEFAULT_HOST",
    "LOG_FORMATS",
    "STEPS",
    "DbHealth",
    "ExporterError",
    "FailureGate",
    "HealthProbe",
    "JsonFormatter",
    "Metrics",
    "MetricsApp",
    "MetricsServer",
    "ProbingCollector",
    "RepeatFilter",
    "ServiceObserver",
    "TextFormatter",
    "configure_logging",
    "cycle_scope",
    "expected_max_rows",
    "make_handler",
    "mount_metrics",
    "probing_registry",
    "score_windows",
    "start_exporter",
    "step",
    "time_queries",
]
