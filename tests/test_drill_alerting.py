"""Drills verify alerting, against the real sandbox (Prometheus, Alertmanager and the pager sink).

Ground truths: the outage this test makes at the edge (both regions out of HAProxy's rotation for a known time), the
edge spec's rule (slo/specs/edge.yaml at the sandbox's time scale: its windows, threshold, guard and `for`), the
events Prometheus had counted in the long window when the fault began, and the pager sink's record of every
notification Alertmanager sent. The broken rule file is the same spec with a wrong metric name.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.environment import PROJECT_ROOT
from rxcore.jobs import QuietProgress, StopToken
from sandbox.monitoring import RULES_DIR
from sandbox.stack import Sandbox
from slo.rules import RuledObjective, generate, write_rules
from slo.rules_cases import run_cases
from slo.spec import load_spec

pytestmark = pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None or shutil.which("promtool") is None,
                                reason="needs Debian's prometheus packages (make deps installs them)")

_EDGE_SPEC = PROJECT_ROOT / "slo" / "specs" / "edge.yaml"
_PAGE = "RxEdgeAvailabilityPage"
_CHECKS = {"checks": [{"check": "sandbox_healthy"}, {"check": "availability", "window_s": 1, "min": 1.0}],
           "after_timeout_s": 30}
_OUTAGE_S = 3.0
_EDGE_BACK = [
    {"driver": "sandbox", "action": "set_edge_server", "args": {"region": "region-a", "enabled": True}},
    {"driver": "sandbox", "action": "set_edge_server", "args": {"region": "region-b", "enabled": True}},
]
_BOTH_REGIONS_OUT = [
    {"name": "backup region out", "driver": "sandbox", "action": "set_edge_server",
     "args": {"region": "region-b", "enabled": False}, "at_s": 0, "duration_s": 0.5},
    {"name": "active region out", "driver": "sandbox", "action": "set_edge_server",
     "args": {"region": "region-a", "enabled": False}, "duration_s": _OUTAGE_S, "fault": True},
    {"name": "active region back", "driver": "sandbox", "action": "set_edge_server",
     "args": {"region": "region-a", "enabled": True}, "duration_s": 0.5},
]


@pytest.fixture(scope="module")
def env_file(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sandbox_environment(sandbox.config, tmp_path_factory.mktemp("env") / "sandbox-alerts.yaml")


def _scenario(tmp_path: Path, method: list[dict[str, Any]], rollbacks: list[dict[str, Any]],
              alerts: list[dict[str, Any]]) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": "alerting-truth", "steady_state": _CHECKS, "probes": {"rate_hz": 10, "stability_s": 2},
        "method": method, "rollbacks": rollbacks, "alerts": alerts, "alerts_quiet_s": 3,
        "objectives": [{"metric": "rto_s", "op": "<=", "target": 30, "critical": True}]}))
    return path


def _drill(env_file: Path, scenario: Path, runs: Path) -> dict[str, Any]:
    request = DrillRequest(env=str(env_file), scenario=str(scenario), runs_dir=runs, background_load=False)
    return execute(plan(request), QuietProgress(), StopToken()).details["drill"]


def _instant(sandbox: Sandbox, query: str, at: float) -> float:
    response = httpx.get(f"{sandbox.config.url('prometheus')}/api/v1/query", params={"query": query, "time": at},
                         timeout=5).json()
    results = response["data"]["result"]
    return float(results[0]["value"][1]) if results else 0.0


def _notifications(sandbox: Sandbox, since: float, alert: str | None = None) -> list[dict[str, Any]]:
    received = httpx.get(f"{sandbox.config.url('pager')}/notifications", timeout=5).json()
    return [n for n in received if n["unix"] >= since and (alert is None or n["alert"] == alert)]


def _edge_rule(sandbox: Sandbox) -> RuledObjective:
    """The edge spec's rules as the sandbox generated them (at its time scale)."""
    return generate(load_spec(_EDGE_SPEC), sandbox.config.monitoring.rules_time_scale).objectives[0]


def _events(sandbox: Sandbox, ruled: RuledObjective, at: float) -> float:
    """What the rule's guard counts: the edge's valid answers over its long window, as Prometheus had them at `at`."""
    window = f"{ruled.alerts[0].long_s:g}s"
    return _instant(sandbox, f'sum(increase(haproxy_frontend_http_responses_total{{job="haproxy",proxy="edge",'
                             f'code!="4xx"}}[{window}]))', at)


def _traffic_until_guarded(sandbox: Sandbox, timeout_s: float = 40) -> None:
    ruled = _edge_rule(sandbox)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=sandbox.edge_url, timeout=5) as client:
        while _events(sandbox, ruled, time.time()) < 1.5 * ruled.config.min_events:
            assert time.monotonic() < deadline, "Prometheus did not count the warm-up traffic at the edge"
            assert all(client.get("/health").status_code == 200 for _ in range(50))
            time.sleep(1.2)  # one scrape


def _predicted_s(sandbox: Sandbox, fault_at: float, failing_per_s: float) -> float:
    """When the edge page's expression first holds under a total outage, from the rule itself: the long window's
    error ratio passes `threshold` once the failed requests reach threshold x the events in the window (those
    counted at the fault's start plus the failing ones), and the guard needs `min_events` in the long window.
    The short window (1/12 of the long) passes sooner and never decides."""
    ruled = _edge_rule(sandbox)
    alert = ruled.alerts[0]
    threshold = alert.factor * ruled.budget
    before = _events(sandbox, ruled, fault_at)
    ratio_s = threshold * before / ((1 - threshold) * failing_per_s)
    guard_s = max(0.0, (ruled.config.min_events - before) / failing_per_s)
    return max(ratio_s, guard_s) + alert.for_s


def test_both_regions_out_pages_once_within_the_rules_prediction_and_resolves(
        sandbox: Sandbox, env_file: Path, tmp_path: Path) -> None:
    """Traffic first, until Prometheus counts more than the low-traffic guard in the long window, so the error
    ratio alone decides when the page fires."""
    _traffic_until_guarded(sandbox)
    alerts = [{"name": _PAGE, "within": "20s", "resolves_within": "60s"}]
    result = _drill(env_file, _scenario(tmp_path, _BOTH_REGIONS_OUT, _EDGE_BACK, alerts), tmp_path / "runs")

    alerting = result["alerting"]
    fault_at = next(e["unix"] for e in result["timeline"] if e["event"] == "fault_injected")
    failing_per_s = result["errors_during_fault"] / result["downtime_s"]
    interval_s = sandbox.config.monitoring.scrape_interval_s  # scrape and rule evaluation interval alike
    predicted = _predicted_s(sandbox, fault_at, failing_per_s)
    assert result["verdict"] == "pass", alerting["findings"]
    assert abs(result["downtime_s"] - _OUTAGE_S) <= 0.5
    # the failures reach Prometheus at its next scrape, the rule sees them at its next evaluation
    assert 0 < result["time_to_alert_s"] <= predicted + 2 * interval_s < _OUTAGE_S
    assert result["time_to_alert_s"] <= result["time_to_notify_s"] <= result["time_to_alert_s"] + 3
    assert result["time_to_resolve_s"] is not None and result["time_to_resolve_s"] <= 60
    pages = _notifications(sandbox, alerting["watched_from"], _PAGE)
    assert [n["status"] for n in pages] == ["firing", "resolved"]
    assert alerting["unexpected"] == []


def test_a_latency_below_the_slo_pages_nobody_and_the_drill_says_so(
        sandbox: Sandbox, env_file: Path, tmp_path: Path) -> None:
    """100 ms on every database answer: far below the 3 s latency objective and too little to exhaust the app's
    pool at the probes' rate, so no request fails and no rule may fire."""
    method = [{"name": f"100 ms on {proxy}", "driver": "toxiproxy", "action": "add_toxic",
               "args": {"proxy": proxy, "type": "latency", "name": "mild", "stream": "downstream",
                        "attributes": {"latency": 100}},
               **({"at_s": 0, "fault": True} if proxy == "pg-a" else {"duration_s": 6})} for proxy in ("pg-a", "pg-b")]
    rollbacks = [{"driver": "toxiproxy", "action": "remove_toxic", "args": {"proxy": proxy, "name": "mild",
                                                                            "missing_ok": True}}
                 for proxy in ("pg-a", "pg-b")]
    result = _drill(env_file, _scenario(tmp_path, method, rollbacks, []), tmp_path / "runs")

    alerting = result["alerting"]
    assert result["errors_during_fault"] == 0
    assert _notifications(sandbox, alerting["watched_from"]) == []
    assert alerting["unexpected"] == []
    assert alerting["findings"] == ["no alert fired, as declared (alerts: [])"]
    assert {o["metric"]: o["met"] for o in result["objectives"]}["unexpected_alerts"] is True
    assert result["verdict"] == "pass"


@pytest.fixture
def broken_edge_rules(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The sandbox's edge rules swapped for ones reading a metric that does not exist, Prometheus reloaded; the
    good file back and reloaded after the test. Yields (broken rule file, good rule file kept aside)."""
    rules = sandbox.state_dir / RULES_DIR / "edge.rules.yml"
    good = tmp_path / "good" / "edge.rules.yml"
    good.parent.mkdir()
    shutil.copy2(rules, good)
    broken_spec = tmp_path / "edge-broken.yaml"
    broken_spec.write_text(_EDGE_SPEC.read_text().replace("haproxy_frontend_http_responses_total",
                                                          "haproxy_frontend_http_response_total"))
    broken = write_rules(generate(load_spec(broken_spec), sandbox.config.monitoring.rules_time_scale),
                         tmp_path / "broken")
    try:
        shutil.copy2(broken, rules)
        _reload(sandbox)
        yield broken, good
    finally:
        shutil.copy2(good, rules)
        _reload(sandbox)


def _reload(sandbox: Sandbox) -> None:
    """Prometheus runs with --web.enable-lifecycle: POST /-/reload reads the rule files again."""
    assert httpx.post(f"{sandbox.config.url('prometheus')}/-/reload", timeout=10).status_code == 200


def test_a_rule_with_a_wrong_metric_name_fails_its_promtool_cases_and_the_drill_reports_the_missing_page(
        sandbox: Sandbox, env_file: Path, tmp_path: Path, broken_edge_rules: tuple[Path, Path]) -> None:
    broken, _ = broken_edge_rules
    cases = run_cases(generate(load_spec(_EDGE_SPEC), sandbox.config.monitoring.rules_time_scale), broken,
                      tmp_path / "broken")
    assert not cases.passed
    assert _PAGE in cases.output

    alerts = [{"name": _PAGE, "within": "8s", "resolves_within": "60s"}]
    result = _drill(env_file, _scenario(tmp_path, _BOTH_REGIONS_OUT, _EDGE_BACK, alerts), tmp_path / "runs")

    missed = {o["metric"]: o for o in result["objectives"]}["alerts_missed"]
    assert (missed["met"], missed["measured"], missed["critical"]) == (False, 1, True)
    assert missed["detail"].startswith(f"no {_PAGE} within 8 s: the platform was down for ")
    assert missed["detail"].endswith(" s and nobody would have known")
    assert result["verdict"] == "fail"
    assert result["time_to_alert_s"] is None
    assert _notifications(sandbox, result["alerting"]["watched_from"], _PAGE) == []
