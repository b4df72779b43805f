"""Ground truth for `rxsuite monitor` against the real sandbox: outages of known start and length (the edge with
no region in rotation) are recorded to within one check interval, a one-round blip is not called down with
"2 of 3", results in a declared maintenance window are marked and not called down, `/metrics` answers while it
runs, and a monitor killed with SIGKILL mid-check loses no earlier check and reports the gap when restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaos.sandbox_env import write_sandbox_environment
from monitor.job import STATUS_FILE, MonitorRequest, execute, plan
from rxcore.jobs import QuietProgress, Result, StopToken
from rxcore.processes import wait_until
from sandbox.faults import thaw
from sandbox.stack import Sandbox
from slo.monitorstore import raw_days, raw_lines, read_gaps

pytestmark = pytest.mark.slow

EVERY_S = 2.0
_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))
METRICS_PORT = 18750 + _OFFSET
REGIONS = ("region-a", "region-b")


def _env(sandbox: Sandbox, tmp_path: Path, **monitor: Any) -> Path:
    path = write_sandbox_environment(sandbox.config, tmp_path / "env.yaml", name="monitor-test")
    raw = yaml.safe_load(path.read_text())
    raw["monitor"] = {"down_after": 2, "down_of": 3, "max_checks_per_minute": 600, "evidence_keep": 3, **monitor}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _records(folder: Path) -> list[dict[str, Any]]:
    """Every check on record, in the order appended: started_at, check, ok, detail, evidence."""
    rows = [json.loads(line) for day in raw_days(folder) for line in raw_lines(folder, day)]
    return [{"started_at": r["t"], "check": r["check"], "ok": r["ok"], "detail": r.get("detail", ""),
             "evidence": r.get("evidence")} for r in rows]


def _status(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / STATUS_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def _edge(sandbox: Sandbox, **enabled: bool) -> None:
    for region, on in enabled.items():
        sandbox.faults.set_edge_server(region.replace("_", "-"), on)


@contextmanager
def _monitoring(env: Path, runs: Path, **request: Any) -> Iterator[tuple[Path, Callable[[int], None], list[Result]]]:
    """The monitor in a thread; yields its record folder, a wait for N finished rounds and its result (at exit)."""
    job = plan(MonitorRequest(env=str(env), every=f"{EVERY_S:g}s", checks="api", runs_dir=runs, **request))
    stop, done = StopToken(), []
    thread = threading.Thread(target=lambda: done.append(execute(job, QuietProgress(), stop)), daemon=True)
    thread.start()

    def rounds(n: int) -> None:
        wait_until(lambda: _status(job.folder).get("rounds", 0) >= n or not thread.is_alive(), 60,
                   what=f"{n} monitor rounds")

    try:
        yield job.folder, rounds, done
    finally:
        stop.request(signal.SIGTERM)
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_outages_are_recorded_with_their_start_and_length(sandbox: Sandbox, tmp_path: Path) -> None:
    env = _env(sandbox, tmp_path)
    try:
        with _monitoring(env, tmp_path / "runs", count=60) as (folder, rounds, _):
            rounds(2)
            done = _status(folder)["rounds"]
            _edge(sandbox, region_a=False, region_b=False)  # a blip: exactly the next round fails
            rounds(done + 1)
            _edge(sandbox, region_a=True, region_b=True)
            rounds(done + 3)
            _edge(sandbox, region_a=False)  # region-a stopped at the edge: region-b serves
            rounds(_status(folder)["rounds"] + 2)
            _edge(sandbox, region_a=True)
            rounds(_status(folder)["rounds"] + 1)
            out = time.time()
            _edge(sandbox, region_a=False, region_b=False)  # both regions stopped for 8 s
            time.sleep(8.0)
            back = time.time()
            _edge(sandbox, region_a=True, region_b=True)
            rounds(_status(folder)["rounds"] + 2)  # with 2 of 3, the second good round brings it back up
    finally:
        _edge(sandbox, region_a=True, region_b=True)
    changes = [c for c in _status(folder)["changes"] if c["check"] == "api.sign-in"]
    assert [c["state"] for c in changes] == ["down", "up"]  # the blip and region-a alone were not called down
    up = changes[1]
    assert out <= up["since"] <= out + EVERY_S
    assert abs((up["at"] - up["since"]) - (back - out)) <= EVERY_S
    sign_ins = [r for r in _records(folder) if r["check"] == "api.sign-in"]
    before_outage = [r for r in sign_ins if r["started_at"] < out]
    assert sum(not r["ok"] for r in before_outage) == 1


def test_results_in_a_maintenance_window_are_marked_and_not_called_down(sandbox: Sandbox, tmp_path: Path) -> None:
    now = time.time()
    window = {"start": _iso(now - 60), "end": _iso(now + 600), "reason": "database upgrade"}
    env = _env(sandbox, tmp_path, maintenance=[window])
    try:
        _edge(sandbox, region_a=False, region_b=False)
        with _monitoring(env, tmp_path / "runs", count=3) as (folder, rounds, result):
            rounds(3)
            wait_until(lambda: bool(result), 30, what="the monitor's end after its 3 rounds")
    finally:
        _edge(sandbox, region_a=True, region_b=True)
    records = _records(folder)
    assert len(records) == 12 and not any(r["ok"] for r in records)
    assert all(r["detail"].startswith("maintenance: database upgrade") for r in records)
    status = _status(folder)
    assert (status["changes"], status["down"], status["in_maintenance"]) == ([], {}, 12)
    assert status["maintenance"]["reason"] == "database upgrade"
    assert result[0].exit_code == 0


def test_a_failed_check_keeps_redacted_evidence_up_to_the_configured_count(sandbox: Sandbox, tmp_path: Path) -> None:
    env = _env(sandbox, tmp_path, evidence_keep=1)
    try:
        _edge(sandbox, region_a=False, region_b=False)
        with _monitoring(env, tmp_path / "runs", count=2) as (folder, rounds, _):
            rounds(2)
    finally:
        _edge(sandbox, region_a=True, region_b=True)
    sign_ins = [r for r in _records(folder) if r["check"] == "api.sign-in"]
    (kept,) = (folder / "evidence").iterdir()  # one of the two sign-in failures' evidence: the newest
    assert sign_ins[-1]["evidence"] == str(kept.relative_to(folder))
    text = (kept / "response.json").read_text()
    assert json.loads(text)["response"]["status"] == 503
    assert sandbox.anon_key not in text


def test_metrics_are_served_while_it_runs(sandbox: Sandbox, tmp_path: Path) -> None:
    env = _env(sandbox, tmp_path, metrics_port=METRICS_PORT)
    with _monitoring(env, tmp_path / "runs", count=30) as (_, rounds, _):
        rounds(1)
        text = httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).text
    assert 'probe_success{check="api.sign-in"} 1.0' in text
    assert 'monitor_check_duration_seconds_bucket{check="api.patient-list",le="3.0"}' in text
    assert 'monitor_checks_total{check="api.renewal",outcome="ok"}' in text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=2)


# The command's lifecycle (rxsuite.lifecycle.run_job: signals, exit codes) without the CLI's start-up, which
# imports every command (seconds on a busy machine); the CLI itself is run by tests/test_monitor_rules.py.
_RUNNER = """import json, sys
from pathlib import Path
from monitor.job import MonitorRequest, execute, plan
from rxsuite.lifecycle import run_job
args = json.loads(sys.argv[1])
sys.exit(run_job(plan, execute, MonitorRequest(**args, runs_dir=Path(sys.argv[2])), "monitor"))
"""


def _monitor(env: Path, runs: Path, **request: Any) -> subprocess.Popen[str]:
    args = {"env": str(env), "checks": "api", "every": f"{EVERY_S:g}s", **request}
    return subprocess.Popen([sys.executable, "-c", _RUNNER, json.dumps(args), str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigkill_mid_check_loses_no_earlier_check_and_the_restart_reports_the_gap(
        sandbox: Sandbox, tmp_path: Path) -> None:
    env, runs = _env(sandbox, tmp_path), tmp_path / "runs"
    folder = runs / "monitor" / "monitor-test"
    first = _monitor(env, runs, count=100)
    edge = sandbox.parts.ref("edge")
    try:
        wait_until(lambda: _status(folder).get("rounds", 0) >= 2, 60, what="two rounds")
        os.kill(edge.pid, signal.SIGSTOP)  # the edge answers nothing: the next sign-in hangs until its timeout
        time.sleep(EVERY_S + 0.5)
        counted = _status(folder)["ok"] + _status(folder)["failed"]
        first.kill()
        first.communicate(timeout=30)
    finally:
        thaw(edge)
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=30)
    kept = _records(folder)
    assert len(kept) >= counted
    time.sleep(2 * EVERY_S)
    second = _monitor(env, runs, count=2)
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    assert "recorded as a gap" in output
    records = _records(folder)
    assert records[:len(kept)] == kept and len(records) == len(kept) + 8
    ((start, end, _),) = read_gaps(folder)
    assert start == max(r["started_at"] for r in kept) and end <= records[len(kept)]["started_at"]


def test_sigterm_closes_the_record_and_exits_143(sandbox: Sandbox, tmp_path: Path) -> None:
    env, runs = _env(sandbox, tmp_path), tmp_path / "runs"
    folder = runs / "monitor" / "monitor-test"
    monitor = _monitor(env, runs, until="10m")
    try:
        wait_until(lambda: _status(folder).get("rounds", 0) >= 1, 60, what="a round")
        monitor.send_signal(signal.SIGTERM)
        output, _ = monitor.communicate(timeout=30)
    finally:
        if monitor.poll() is None:
            monitor.kill()
            monitor.communicate(timeout=30)
    assert monitor.returncode == 143, output
    assert _status(folder)["status"] == "terminated"
    assert len(_records(folder)) >= 4


def _iso(at: float) -> datetime:
    """A time as YAML writes a timestamp (unquoted), as a user writes one in the environment file."""
    return datetime.fromtimestamp(int(at), UTC)


def test_a_failed_journey_keeps_its_screenshot_trace_and_console_errors(sandbox: Sandbox, tmp_path: Path) -> None:
    """The one journey round of these tests (journeys are slow): the patient's journey while /dashboard answers
    500, as --break-page makes it."""
    env = _env(sandbox, tmp_path)
    job = plan(MonitorRequest(env=str(env), checks="smoke", count=1, runs_dir=tmp_path / "runs",
                              break_page=("/dashboard",), select="signs_in_and_sees"))
    assert execute(job, QuietProgress(), StopToken()).exit_code == 0  # one round: nothing is down after one failure
    (record,) = _records(job.folder)
    assert (record["check"], record["ok"]) == ("journey.patient-signs-in-and-sees-prescriptions", False)
    kept = job.folder / record["evidence"]
    assert {p.suffix for p in kept.iterdir()} == {".png", ".zip", ".txt"}
    assert not list(job.folder.glob(".journeys-*"))  # the round's scratch folder is gone

