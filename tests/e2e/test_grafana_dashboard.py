"""deploy/grafana/podserve.json: importable as current Grafana expects it, and every metric it queries is one
that podserve exports.

The PromQL of every panel and variable is parsed by promql-parser (GreptimeDB's Rust PromQL parser); the exports
are scraped from a running `podserve serve` and `podserve endpoint` and read by prometheus_client's own parser.
A metric under rate()/increase() must be a counter or a histogram's _bucket/_sum/_count series, a bare one a gauge,
and every label a query matches or groups by must be on the metrics it applies to.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import promql_parser
import pytest
import requests
from conftest import SERVED_MODEL
from podserve_testutil import free_port, require_env
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "podserve.json"
# What a Grafana query sees in place of its variables (as Grafana interpolates them before sending PromQL).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$model_name": ".*",
                     "$endpoint": ".*"}
# The issue's list: what the board must show.
REQUIRED_METRICS = {
    "vllm:generation_tokens_total", "vllm:prompt_tokens_total",                # throughput
    "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_bucket",  # TTFT / ITL
    "vllm:kv_cache_usage_perc", "vllm:num_requests_running", "vllm:num_requests_waiting",
    "vllm:num_preemptions_total", "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total",
    "vllm:request_success_total",
    "podserve_endpoint_jobs_in_queue", "podserve_endpoint_jobs_in_progress", "podserve_endpoint_queue_delay_seconds",
    "podserve_endpoint_workers",
}
RANGE_SUFFIXES = ("_bucket", "_sum", "_count")


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def queries(dash: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable."""
    out = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            out.append((f"panel '{panel['title']}' {t['refId']}", t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q)
            assert m, f"variable {v['name']}: expected label_values(<selector>, <label>), got {q}"
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def interpolate(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


class Usage:
    """What one parsed expression queries: metric names (bare or under a range), and the labels it needs."""

    def __init__(self, expr: str):
        self.ast = promql_parser.parse(interpolate(expr))
        self.bare: set[str] = set()
        self.ranged: set[str] = set()
        self.labels: list[tuple[str, set[str]]] = []  # (label, the metrics it must be on)
        promql_parser.walk(self.ast, pre_visit=self._visit)
        self.bare -= self.ranged

    def _visit(self, node):
        if isinstance(node, promql_parser.MatrixSelector):
            self.ranged.add(node.vector_selector.name)
        elif isinstance(node, promql_parser.VectorSelector):
            assert node.name, "a selector without a metric name"
            self.bare.add(node.name)
            for m in node.matchers.matchers:
                self.labels.append((m.name, {node.name}))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            inner: set[str] = set()
            promql_parser.walk(node.expr, pre_visit=lambda n: inner.add(n.name) if isinstance(
                n, promql_parser.VectorSelector) else None)
            for label in node.modifier.labels:
                self.labels.append((label, inner))


def scrape(url: str) -> dict[str, tuple[str, set[str]]]:
    """Sample name -> (family type, label names) as prometheus_client reads the exposition."""
    text = requests.get(url, timeout=10).text
    out: dict[str, tuple[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            kind, labels = out.get(s.name, (family.type, set()))
            out[s.name] = (kind, labels | set(s.labels))
    return out


@pytest.fixture(scope="module")
def exported(server) -> dict[str, tuple[str, set[str]]]:
    """The series of the e2e `podserve serve` and of a `podserve endpoint` started here (no workers)."""
    binary = require_env("PODSERVE_BINARY")
    port = free_port()
    db_dir = tempfile.mkdtemp(prefix="podserve-grafana-")
    log = os.path.join(db_dir, "endpoint.log")
    with open(log, "w") as f:
        endpoint = subprocess.Popen([binary, "endpoint", "--host", "127.0.0.1", "--port", str(port), "--workers-max",
                                     "0", "--db", os.path.join(db_dir, "jobs.db")], stdout=f, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert endpoint.poll() is None, f"podserve endpoint exited: {open(log).read()[-3000:]}"
            try:
                requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"podserve endpoint did not start: {open(log).read()[-3000:]}"
                time.sleep(0.2)
        # One request, so the histograms have observations (their series are there either way).
        r = requests.post(f"{server.url}/v1/completions", timeout=60,
                          json={"model": SERVED_MODEL, "prompt": "Hello", "max_tokens": 4, "temperature": 0})
        assert r.status_code == 200, r.text
        metrics = scrape(f"{server.url}/metrics")
        metrics.update(scrape(f"http://127.0.0.1:{port}/metrics"))
        yield metrics
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=20)
        shutil.rmtree(db_dir, ignore_errors=True)


def test_dashboard_is_importable():
    dash = load_dashboard()
    assert dash["uid"] and dash["title"]
    assert dash.get("id") is None, "an exported dashboard carries no database id"
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36  # Grafana 9.x and later
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dash["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for t in panel["targets"]:
            assert t["datasource"] == panel["datasource"], panel["title"]
            for used in re.findall(r"\$(\w+)", t["expr"]):
                assert used.startswith("__") or used in variables, f"{panel['title']}: ${used} is not defined"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, v["name"]


def test_every_query_parses_and_the_board_covers_the_issue():
    used = set()
    for where, expr in queries(load_dashboard()):
        try:
            u = Usage(expr)
        except Exception as e:  # the parser's own error type
            raise AssertionError(f"{where}: not valid PromQL: {expr}\n{e}")
        used |= u.bare | u.ranged
    missing = REQUIRED_METRICS - used
    assert not missing, f"the dashboard does not show {sorted(missing)}"


def test_every_metric_and_label_is_exported(exported):
    problems = []
    for where, expr in queries(load_dashboard()):
        u = Usage(expr)
        for name in sorted(u.bare | u.ranged):
            if name not in exported:
                problems.append(f"{where}: {name} is not exported")
                continue
            kind, _ = exported[name]
            if name in u.ranged and not (kind == "counter" or (kind == "histogram" and name.endswith(RANGE_SUFFIXES))):
                problems.append(f"{where}: rate/increase over {name}, a {kind}")
            if name in u.bare and kind != "gauge":
                problems.append(f"{where}: {name} is a {kind}: use rate() or increase()")
        for label, metrics in u.labels:
            for name in metrics:
                if name in exported and label not in exported[name][1]:
                    problems.append(f"{where}: {name} has no label {label!r} (it has {sorted(exported[name][1])})")
    assert not problems, "\n".join(problems)
    print(f"{len(queries(load_dashboard()))} queries checked against {len(exported)} exported series names")
