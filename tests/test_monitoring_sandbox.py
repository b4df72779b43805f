"""The sandbox's monitoring parts against the real sandbox: Prometheus and Alertmanager healthy and scraping, a
page reaching the pager sink, and SLOs evaluated from Prometheus equal to the regions' own access logs.

Ground truths: the requests this test sends (one route, `/rest/v1/{table}`, no other client uses it), the
database outage it injects through the fault proxy, and the latency it adds there; the regions' JSON-lines access
logs count every answer, independently of Prometheus.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos.sandbox_env import write_sandbox_environment
from sandbox.monitoring import PAGER_LOG
from sandbox.monitoring import PARTS as MONITORING_PARTS
from sandbox.stack import REGIONS, Sandbox
from slo.evaluate import Evaluation
from slo.job import SloRequest, evaluation_of, execute, plan

pytestmark = pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None,
                                reason="needs Debian's prometheus packages (make deps installs them)")

_ROUTE = "/rest/v1/{table}"
_SETTLE_S = 2.5  # a scrape (1 s) and an access-log flush (1 s) after the last request, with margin


@pytest.fixture(scope="module")
def env_file(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sandbox_environment(sandbox.config, tmp_path_factory.mktemp("env") / "sandbox-mon.yaml")


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """The fault proxy's API; every toxic removed and every proxy enabled again after the test."""
    with httpx.Client(base_url=sandbox.fault_proxy_url, timeout=5) as client:
        try:
            yield client
        finally:
            client.post("/reset")
            _wait_database(sandbox)


def _wait_database(sandbox: Sandbox) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(_get(sandbox.region_urls[r], sandbox).status_code == 200 for r in REGIONS):
            return
        time.sleep(0.2)
    raise AssertionError("the regions did not reach the database again within 30 s")


def _get(base_url: str, sandbox: Sandbox, timeout_s: float = 30) -> httpx.Response:
    headers = {"apikey": sandbox.anon_key, "Authorization": f"Bearer {sandbox.service_key}"}
    try:
        return httpx.get(f"{base_url}/rest/v1/medications?select=id&limit=1", headers=headers, timeout=timeout_s)
    except httpx.HTTPError:
        return httpx.Response(599)


def _spec(tmp_path: Path, objectives: list[dict]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"format": "rxsuite-slo/1", "name": "monitoring-truth", "series_step": "1s",
                                    "objectives": objectives}))
    return path


def _evaluate(env_file: Path, spec: Path, start: float, end: float) -> Evaluation:
    request = SloRequest(runs=(), spec=spec, write=False, env=str(env_file), since=_iso(start), until=_iso(end))
    return evaluation_of(execute(plan(request)))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _logged(sandbox: Sandbox, start: float, end: float) -> list[dict]:
    """The access-log lines of the test's route answered within (start, end]."""
    lines = []
    for region in REGIONS:
        path = sandbox.logs_dir / f"{region}.access.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            entry = json.loads(line)
            moment = datetime.fromisoformat(entry["ts"]).timestamp()
            if entry["route"] == _ROUTE and start < moment <= end:
                lines.append(entry)
    return lines


def test_prometheus_and_alertmanager_are_healthy_and_every_target_is_scraped(sandbox: Sandbox) -> None:
    prometheus, alertmanager = sandbox.config.url("prometheus"), sandbox.config.url("alertmanager")
    assert httpx.get(f"{prometheus}/-/ready", timeout=5).status_code == 200
    assert httpx.get(f"{alertmanager}/-/ready", timeout=5).status_code == 200
    deadline, health = time.monotonic() + 15, {}
    while time.monotonic() < deadline:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["scrapeUrl"]): t["health"] for t in targets}
        if set(health.values()) == {"up"}:
            break
        time.sleep(0.5)
    assert {job for job, _ in health} == {"rx-app", "haproxy", "failover", "payments", "postgres", "prometheus"}
    assert set(health.values()) == {"up"}, health
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert {"RxAvailabilityPage", "RxLatencyP95Page"} <= alerts
    assert [r["name"] for g in groups for r in g["rules"] if r["health"] == "err"] == []
    status = {p.name: (p.running, p.detail) for p in sandbox.status()}
    assert {part: status[part] for part in MONITORING_PARTS} == {part: (True, "healthy") for part in MONITORING_PARTS}


def test_an_alert_posted_to_alertmanager_reaches_the_pager(sandbox: Sandbox) -> None:
    name = f"RxPagerCheck{int(time.time())}"
    alert = {"labels": {"alertname": name, "severity": "page"}, "annotations": {"summary": "pager check"}}
    response = httpx.post(f"{sandbox.config.url('alertmanager')}/api/v2/alerts", json=[alert], timeout=5)
    assert response.status_code == 200
    log = sandbox.state_dir / PAGER_LOG
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not received:
        lines = log.read_text().splitlines() if log.exists() else []
        received = [e for e in map(json.loads, lines) if e["alert"] == name]
        time.sleep(0.2)
    assert [(e["alert"], e["status"], e["labels"]["severity"]) for e in received] == [(name, "firing", "page")]


def test_availability_from_prometheus_equals_the_access_logs(sandbox: Sandbox, env_file: Path, faults: httpx.Client,
                                                             tmp_path: Path) -> None:
    time.sleep(_SETTLE_S)  # earlier tests' requests scraped before the window opens
    start = time.time()
    time.sleep(1.5)  # the window's first boundary lies before a scrape that precedes the traffic
    statuses = [_get(sandbox.edge_url, sandbox).status_code for _ in range(40)]
    for proxy in ("pg-a", "pg-b"):
        assert faults.post(f"/proxies/{proxy}", json={"enabled": False}).status_code == 200
    with ThreadPoolExecutor(max_workers=15) as pool:  # each waits out the app's database deadline: at once
        statuses += list(pool.map(lambda _: _get(sandbox.edge_url, sandbox).status_code, range(15)))
    faults.post("/reset")
    _wait_database(sandbox)
    statuses += [_get(sandbox.edge_url, sandbox).status_code for _ in range(40)]
    time.sleep(_SETTLE_S)
    end = time.time()
    selector = f'http_requests_total{{job="rx-app",route="{_ROUTE}"'
    spec = _spec(tmp_path, [{"name": "availability", "kind": "availability", "objective": "99%",
                             "prometheus": {"total": selector + "}", "bad": selector + ',code=~"5.."}'}}])

    result = _evaluate(env_file, spec, start, end).objectives[0]

    logged = _logged(sandbox, start, end)
    logged_bad = sum(1 for e in logged if e["status"] >= 500)
    assert sum(1 for s in statuses if s >= 500) >= 15  # the outage was seen by the client
    assert logged_bad >= 15
    assert result.samples == len(logged)
    assert result.series is not None
    assert sum(result.series["bad"]) == logged_bad
    assert result.measured == pytest.approx((len(logged) - logged_bad) / len(logged))
    assert result.verdict == "fail"


def test_latency_injected_through_the_fault_proxy_moves_p95_from_pass_to_fail(
        sandbox: Sandbox, env_file: Path, faults: httpx.Client, tmp_path: Path) -> None:
    """The app gives a database operation 4 s (then 503), so the injected delay stays below that: 0.6 s per round
    trip against a p95 < 1 s objective. A request makes three to five round trips (BEGIN with the caller's role and
    claims, one or two statements, COMMIT; a pooled connection idle for 1 s is pinged first), so the ground truth is
    the p95 of the access log's durations: the bounds must bracket it."""
    region = sandbox.region_urls["region-a"]  # direct: the edge's health checks would see the latency too
    selector = f'http_request_duration_seconds{{job="rx-app",route="{_ROUTE}",code!~"5.."}}'
    spec = _spec(tmp_path, [{"name": "latency-p95", "kind": "latency", "percentile": 95, "threshold": "1s",
                             "prometheus": {"histogram": selector, "buckets": [0.5, 1, 2.5, 3, 5, 10]}}])
    time.sleep(_SETTLE_S)  # earlier tests' requests scraped before the window opens
    fast_start = time.time()
    time.sleep(1.5)
    assert all(_get(region, sandbox).status_code == 200 for _ in range(80))
    time.sleep(_SETTLE_S)
    fast_end = time.time()
    for proxy in ("pg-a", "pg-b"):
        toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 600}}
        assert faults.post(f"/proxies/{proxy}/toxics", json=toxic).status_code == 200
    with ThreadPoolExecutor(max_workers=4) as pool:
        slow = list(pool.map(lambda _: _get(region, sandbox).status_code, range(16)))
    assert slow.count(200) >= 12  # a request that waits too long for a pooled connection is a 503, not counted
    time.sleep(_SETTLE_S)
    slow_end = time.time()

    fast = _evaluate(env_file, spec, fast_start, fast_end).objectives[0]
    slowed = _evaluate(env_file, spec, fast_end, slow_end).objectives[0]

    durations = sorted(e["duration_ms"] / 1000 for e in _logged(sandbox, fast_end, slow_end) if e["status"] < 500)
    logged_p95 = durations[math.ceil(0.95 * len(durations)) - 1]
    assert (fast.verdict, fast.samples) == ("pass", 80)
    assert (slowed.verdict, slowed.samples) == ("fail", len(durations))
    low, high = slowed.details["p95_bounds_s"]
    assert low < logged_p95 <= high
    assert logged_p95 >= 1.2 and low >= 1.0  # each request waits at least one injected delay: beyond the threshold


def test_an_openslo_file_with_prometheus_sources_reads_the_same_counts_as_the_rxsuite_spec(
        sandbox: Sandbox, env_file: Path, project_root: Path) -> None:
    """slo/specs/openslo-prometheus.yaml is the default spec's availability written as OpenSLO: same selectors."""
    for _ in range(20):
        _get(sandbox.edge_url, sandbox)
    time.sleep(_SETTLE_S)
    end = time.time()
    start = end - 30
    specs = project_root / "slo" / "specs"
    ours = {o.name: o for o in _evaluate(env_file, specs / "default.yaml", start, end).objectives}["availability"]
    theirs = _evaluate(env_file, specs / "openslo-prometheus.yaml", start, end).objectives[0]
    assert theirs.verdict != "not-applicable"
    assert theirs.series is not None and ours.series is not None
    assert (theirs.samples, theirs.series["bad"]) == (ours.samples, ours.series["bad"])
    assert ours.samples >= 20
