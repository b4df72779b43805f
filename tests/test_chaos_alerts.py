"""A scenario's `alerts:` and the alert watcher without a sandbox: the field's refusals, the objectives it adds,
and the watcher's figures and findings against a fake Alertmanager and pager serving fixed answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.alerts import AlertSource, AlertWatcher, parse_time
from chaos.drill import DrillRequest, plan
from chaos.scenario import AlertChecks, ExpectedAlert, load_scenario
from rxcore.errors import ConfigError
from tests.local_http import serving

_VALID = {
    "name": "t",
    "method": [{"driver": "sandbox", "action": "kill_region", "args": {"region": "region-a"}, "fault": True}],
    "rollbacks": [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}],
    "objectives": [{"metric": "rto_s", "op": "<=", "target": 10, "critical": True}],
}
_T0 = 1_800_000_000.0  # the fault's start in the watcher tests


def _load(tmp_path: Path, **changes: Any) -> Any:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps({**_VALID, **changes}))))
    return load_scenario(str(path))


def _refusal(tmp_path: Path, **changes: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, **changes)
    return caught.value


def test_declared_alerts_are_read_with_their_durations(tmp_path: Path) -> None:
    scenario = _load(tmp_path, alerts=[{"name": "RxAvailabilityPage", "within": "60s", "resolves_within": "5m"},
                                       {"name": "RxAvailabilityTicket", "required": False}])
    assert scenario.alerts == AlertChecks((
        ExpectedAlert("RxAvailabilityPage", 60.0, 300.0, True, "alerts[0]"),
        ExpectedAlert("RxAvailabilityTicket", 60.0, None, False, "alerts[1]")), 15.0)


def test_declaring_alerts_adds_their_objectives_with_a_missed_page_critical(tmp_path: Path) -> None:
    scenario = _load(tmp_path, alerts=[{"name": "RxAvailabilityPage", "within": "60s", "resolves_within": "5m"}])
    added = {o.metric: o.critical for o in scenario.objectives}
    assert added == {"rto_s": True, "steady_state_after": True, "alerts_missed": True, "alerts_unresolved": False,
                     "unexpected_alerts": False}


def test_an_empty_alerts_list_makes_silence_the_critical_objective(tmp_path: Path) -> None:
    scenario = _load(tmp_path, alerts=[])
    assert scenario.alerts == AlertChecks((), 15.0)
    assert {o.metric: o.critical for o in scenario.objectives}["unexpected_alerts"] is True
    assert "alerts_missed" not in {o.metric for o in scenario.objectives}


def test_without_alerts_alerting_is_not_checked(tmp_path: Path) -> None:
    scenario = _load(tmp_path)
    assert scenario.alerts is None
    assert not {"alerts_missed", "unexpected_alerts"} & {o.metric for o in scenario.objectives}


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"alerts": None}, "alerts", "alerts: []"),
    ({"alerts": [{"name": "Rx Page"}]}, "alerts[0].name", "not an alert name"),
    ({"alerts": [{"name": "RxA"}, {"name": "RxA"}]}, "alerts[1].name", "listed twice"),
    ({"alerts": [{"name": "RxA", "within": "soon"}]}, "alerts[0].within", "60s"),
    ({"alerts": [{"name": "RxA", "within_s": 5}]}, "alerts[0].within_s", "unknown field"),
    ({"alerts_quiet_s": 5}, "alerts_quiet_s", "without alerts"),
])
def test_a_bad_alerts_field_is_refused_with_its_field_and_fix(tmp_path: Path, changes: dict[str, Any], field: str,
                                                             words: str) -> None:
    error = _refusal(tmp_path, **changes)
    assert error.field == field
    assert words in str(error)


def test_alertmanager_times_with_nanoseconds_are_read() -> None:
    assert parse_time("2026-12-06T06:28:26.029123456Z") == pytest.approx(1796538506.029123)
    assert parse_time("2026-12-06T06:28:26Z") == 1796538506.0
    assert parse_time("0001-01-01T00:00:00Z") is None


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _am_alert(name: str, starts: float, severity: str = "page") -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity}, "startsAt": _iso(starts),
            "status": {"state": "active"}, "fingerprint": name}


def _note(name: str, status: str, starts: float, received: float, severity: str = "page") -> dict[str, Any]:
    return {"alert": name, "status": status, "labels": {"alertname": name, "severity": severity},
            "starts_at": _iso(starts), "unix": received}


@pytest.fixture
def fake() -> Iterator[tuple[str, dict[str, Any]]]:
    """A fake Alertmanager + pager on one port; the test sets what they answer in `state`."""
    state: dict[str, Any] = {"alerts": [], "notifications": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(state["alerts"] if self.path == "/api/v2/alerts" else state["notifications"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    with serving(Handler) as url:
        yield url, state


def _watch(url: str, checks: AlertChecks) -> AlertWatcher:
    watcher = AlertWatcher(AlertSource(url, url), checks, clock=lambda: _T0)
    watcher.since = _T0 - 2
    return watcher


def test_a_page_that_fired_and_resolved_gives_the_three_timings(fake: tuple[str, dict[str, Any]]) -> None:
    url, state = fake
    watcher = _watch(url, AlertChecks((ExpectedAlert("RxPage", 60, 300, True, "alerts[0]"),), 15))
    state["alerts"] = [_am_alert("RxPage", _T0 + 2.5)]
    state["notifications"] = [_note("RxPage", "firing", _T0 + 2.5, _T0 + 3.5),
                              _note("RxPage", "resolved", _T0 + 2.5, _T0 + 20.0)]
    watcher.poll()
    section, figures = watcher.report(_T0, _T0 + 10, 10.0)
    assert figures == {"time_to_alert_s": 2.5, "time_to_notify_s": 3.5, "time_to_resolve_s": 10.0,
                       "alerts_missed": 0, "alerts_unresolved": 0, "unexpected_alerts": 0}
    assert section["findings"] == []


def test_a_page_that_never_fired_says_how_long_the_platform_was_down(fake: tuple[str, dict[str, Any]]) -> None:
    url, _ = fake
    watcher = _watch(url, AlertChecks((ExpectedAlert("RxPage", 60, None, True, "alerts[0]"),), 15))
    watcher.poll()
    section, figures = watcher.report(_T0, _T0 + 3, 2.4)
    assert figures["alerts_missed"] == 1 and figures["time_to_alert_s"] is None
    assert section["findings"] == ["no RxPage within 60 s: the platform was down for 2.4 s and nobody would have "
                                   "known"]


def test_an_undeclared_alert_is_a_finding_and_one_already_firing_is_not(fake: tuple[str, dict[str, Any]]) -> None:
    url, state = fake
    watcher = _watch(url, AlertChecks((), 15))
    state["alerts"] = [_am_alert("RxOld", _T0 - 600, "ticket"), _am_alert("RxSurprise", _T0 + 4)]
    watcher.poll()
    section, figures = watcher.report(_T0, _T0 + 5, 0.0)
    assert figures["unexpected_alerts"] == 1
    assert [a["name"] for a in section["unexpected"]] == ["RxSurprise"]
    assert [a["name"] for a in section["already_firing"]] == ["RxOld"]
    assert section["findings"] == ["unexpected alert RxSurprise (page) fired 4.0 s after the fault: the scenario "
                                   "does not say its fault raises it"]


def test_an_alertmanager_that_never_answers_leaves_the_figures_unmeasured() -> None:
    watcher = _watch("http://127.0.0.1:9", AlertChecks((ExpectedAlert("RxPage", 60, None, True, "a"),), 15))
    watcher.poll()
    section, figures = watcher.report(_T0, _T0 + 5, 1.0)
    assert set(figures.values()) == {None}
    assert section["checked"] is False
    assert section["findings"][0].startswith("Alertmanager at http://127.0.0.1:9 did not answer")


def test_an_unset_alertmanager_credentials_variable_refuses_the_drill_before_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RX_TEST_AM_AUTH", raising=False)
    env = tmp_path / "staging.yaml"
    env.write_text(yaml.safe_dump({
        "name": "staging", "kind": "staging", "base_url": "https://rx.example", "anon_key_env": "RX_ANON",
        "allowed_jobs": ["drill"], "chaos": {"drivers": ["http"]},
        "alerting": {"alertmanager_url": "https://am.example", "headers_env": {"Authorization": "RX_TEST_AM_AUTH"}}}))
    with pytest.raises(ConfigError) as caught:
        plan(DrillRequest(env=str(env), scenario="payment-provider-outage", skip_checks=True))
    assert caught.value.field == "alerting.headers_env.Authorization"
    assert "RX_TEST_AM_AUTH" in str(caught.value)
