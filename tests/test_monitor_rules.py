"""The monitor's rules without a platform: "x failures of the last y", evidence retention, and what `plan` refuses
(an environment that does not allow monitor, a schedule over the rate cap, a bound in the past)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.checks import ApiTarget, run_api_checks
from monitor.evidence import EvidenceKeeper
from monitor.job import MonitorRequest, plan
from monitor.state import Tracker
from rxcore.credentials import Credential
from rxcore.environment import PROJECT_ROOT
from rxcore.errors import ConfigError, RxError
from rxcore.redact import REDACTED, Scrubber
from sandbox.jsonhttp import JsonHandler
from tests.local_http import serving


def _feed(tracker: Tracker, outcomes: str) -> list[tuple[str, float, float]]:
    """Feed "ok"/"x" outcomes at t = 0, 1, 2...; the state changes as (state, at, since)."""
    changes = []
    for at, mark in enumerate(outcomes):
        change = tracker.feed("api.sign-in", float(at), mark == "o")
        if change is not None:
            changes.append((change.state, change.at, change.since))
    return changes


def test_a_single_failure_is_not_called_down_with_two_of_three() -> None:
    assert _feed(Tracker(2, 3), "ooxooxoo") == []


def test_two_failures_of_three_call_the_check_down_from_the_first_failure() -> None:
    assert _feed(Tracker(2, 3), "ooxox") == [("down", 4.0, 2.0)]


def test_the_outage_ends_at_the_first_good_check_after_the_last_failure() -> None:
    assert _feed(Tracker(2, 3), "oxxxxoooo") == [("down", 2.0, 1.0), ("up", 5.0, 1.0)]


def test_one_of_three_recovers_only_when_the_failure_left_the_window() -> None:
    assert _feed(Tracker(1, 3), "oxooo") == [("down", 1.0, 1.0), ("up", 2.0, 1.0)]


def test_evidence_beyond_the_configured_count_is_removed_oldest_first(tmp_path: Path) -> None:
    keeper = EvidenceKeeper(tmp_path, 2, Scrubber(["s3cret-anon-key"]))
    kept = [keeper.keep_response("api.sign-in", 1_700_000_000.0 + n, "HTTP 503",
                                 {"status": 503, "body": "no server s3cret-anon-key"}) for n in range(4)]
    assert [p.name for p in keeper.folders()] == [Path(k).name for k in kept[2:] if k]
    body = json.loads((tmp_path / str(kept[-1]) / "response.json").read_text())
    assert body["response"] == {"status": 503, "body": f"no server {REDACTED}"}


def test_no_evidence_is_kept_when_the_count_is_zero(tmp_path: Path) -> None:
    keeper = EvidenceKeeper(tmp_path, 0, Scrubber())
    assert keeper.keep_response("api.sign-in", 1_700_000_000.0, "HTTP 503", None) is None
    assert keeper.folders() == []


def _env(tmp_path: Path, **changes: Any) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "environments" / "sandbox.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_an_environment_without_monitor_in_allowed_jobs_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, allowed_jobs=["load", "journeys"])
    with pytest.raises(ConfigError, match=r"allowed_jobs.*'monitor' is not allowed"):
        plan(MonitorRequest(env=str(env), count=1, runs_dir=tmp_path))


def test_a_schedule_over_the_rate_cap_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, monitor={"max_checks_per_minute": 60})
    with pytest.raises(ConfigError, match=r"monitor.max_checks_per_minute.*240 checks a minute.*--every 4s"):
        plan(MonitorRequest(env=str(env), every="1s", checks="api", count=1, runs_dir=tmp_path))


def test_a_bound_in_the_past_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RxError, match="that time has passed"):
        plan(MonitorRequest(env=str(_env(tmp_path)), until="2020-01-01T00:00", runs_dir=tmp_path))


class _OddPlatform(JsonHandler):
    """Signs anyone in, then answers the patient's list with a JSON array of numbers."""

    def do_POST(self) -> None:
        self._reply(200, {"access_token": "t", "user": {"id": "u1"}})

    def do_GET(self) -> None:
        self._reply(200, [1, 2])



def test_an_answer_of_an_unexpected_shape_fails_the_check_and_the_round_goes_on() -> None:
    patient = Credential("p@synthetic.rx.test", "pw-123456", "patient", "u1")
    with serving(_OddPlatform) as url:
        outcomes = run_api_checks(ApiTarget(url, "anon", patient, 2.0), threading.Event())
    assert [(o.check, o.ok) for o in outcomes] == [
        ("api.sign-in", True), ("api.patient-list", False), ("api.renewal", False), ("api.realtime", False)]
    assert outcomes[1].detail == "unexpected answer: AttributeError: 'int' object has no attribute 'get'"
