"""The shipped deploy files: alert rules pass their promtool tests, and every metric name the
alerts and the Grafana dashboard use is one the exporter exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric

from minertrace.observe import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "minertrace.json"
INSTALL_HINT = "install promtool: apt-get install prometheus, or a Prometheus release"

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def exposed_names() -> set[str]:
    """Every sample name the exporter can produce."""
    metrics = Metrics()
    families: list[Metric] = list(metrics.registry.collect())
    return {f.name + suffix for f in families for suffix in _SUFFIXES[f.type]}


def metric_names(expr: str) -> set[str]:
    """The minertrace metric names of a PromQL expression (label values and strings removed)."""
    no_strings = re.sub(r'"[^"]*"', "", expr)
    no_labels = re.sub(r"\{[^}]*\}", "", no_strings)
    return {n for n in _IDENT.findall(no_labels) if n.startswith("minertrace_")}


def alert_expressions() -> dict[str, str]:
    text = ALERTS.read_text()
    names = re.findall(r"^\s*- alert: (\S+)\s*$", text, flags=re.M)
    exprs = re.findall(r"^\s*expr: (.+)$", text, flags=re.M)
    # One-line expressions keep this parse honest: one expr per alert, in order.
    assert len(names) == len(exprs) and names
    return dict(zip(names, exprs, strict=True))


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    return exprs


def test_alert_rules_pass_their_promtool_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail(f"promtool is required under CI; {INSTALL_HINT}")
        pytest.skip(f"promtool not found; {INSTALL_HINT}")
    for args in (["check", "rules", str(ALERTS)], ["test", "rules", str(ALERTS_TEST)]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_promtool_test() -> None:
    tested = set(re.findall(r"alertname: (\S+)", ALERTS_TEST.read_text()))
    assert set(alert_expressions()) <= tested


def test_alert_metric_names_are_exposed() -> None:
    exposed = exposed_names()
    used: set[str] = set()
    for name, expr in alert_expressions().items():
        names = metric_names(expr)
        assert names or name == "MinertraceExporterDown", f"{name} uses no minertrace metric"
        used |= names
    assert not used - exposed, f"alerts use metrics the exporter does not expose: {used - exposed}"


def test_dashboard_metric_names_are_exposed() -> None:
    exposed = exposed_names()
    used = set().union(*(metric_names(e) for e in dashboard_expressions()))
    assert len(used) >= 20
    assert not used - exposed, f"dashboard uses metrics not exposed: {sorted(used - exposed)}"


def test_the_name_check_catches_a_misspelt_metric() -> None:
    expr = 'rate(minertrace_cycle_total{status="x"}[5m])'
    assert metric_names(expr) == {"minertrace_cycle_total"}
    assert "minertrace_cycle_total" not in exposed_names()
    assert "minertrace_cycles_total" in exposed_names()


def test_exposed_names_follow_prometheus_conventions() -> None:
    metrics = Metrics()
    for family in metrics.registry.collect():
        assert family.name.startswith("minertrace_")
        assert not family.name.endswith("_total")
        if family.type == "histogram":
            assert family.name.endswith("_seconds")


def test_dashboard_panels_have_unique_ids_and_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "instance"}
