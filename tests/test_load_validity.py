"""A load run's validity: the rules on made-up figures, the measuring parts on synthetic clocks, and whole runs
against a trivial local endpoint: a generator starved by a rate far beyond one process's capacity is `invalid`
(exit 4, SLO verdict `invalid`), the same run at a rate it can keep is `valid`, a worker killed mid-run is
`degraded`. Arrival mode's two latency views are checked on samples of known latency and lag."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from locustfiles.generator import CpuMonitor
from locustfiles.pacing import ArrivalSchedule
from locustfiles.recorder import SampleRecorder
from reports.builder import generate
from reports.sources import for_run
from slo.evaluate import evaluate_run, write_slo_json
from slo.histogram import Histogram
from slo.validity import DEGRADED, INVALID, VALID, judge_load, judge_probes, read_validity
from tests.children import stop_child

ROOT = Path(__file__).resolve().parent.parent


# ----- the rules ------------------------------------------------------------------------------------------------

def _figures(**overrides: Any) -> dict[str, Any]:
    return {"windows": 100, "saturated_windows": 0, "slots": 1000, "backlog_slots": 0, "on_time_slots": 1000,
            "late_wakeups": 0, "max_wake_lag_s": 0.0, "clock_skew_s": None, **overrides}


def test_a_generator_saturated_in_more_than_a_tenth_of_the_windows_is_invalid() -> None:
    verdict = judge_load({"worker-a": _figures(saturated_windows=11)})
    assert verdict.status == INVALID
    assert verdict.reasons == ["invalid: worker-a: generator CPU at or above 90% in 11 of 100 windows (limit 10%): "
                               "it measured itself"]


def test_a_tenth_of_the_windows_saturated_is_still_valid() -> None:
    assert judge_load({"worker-a": _figures(saturated_windows=10)}).status == VALID


def test_late_wakeups_of_free_users_are_invalid() -> None:
    verdict = judge_load({"local": _figures(late_wakeups=11, max_wake_lag_s=0.4)})
    assert verdict.status == INVALID and "11 of 1000 iterations started more than 250 ms" in verdict.reasons[0]


def test_backlog_is_degraded_not_invalid() -> None:
    verdict = judge_load({"local": _figures(backlog_slots=101)})
    assert verdict.status == DEGRADED and "101 of 1000 iterations waited for a free user" in verdict.reasons[0]


def test_clock_skew_beyond_half_a_second_is_degraded() -> None:
    assert judge_load({"w": _figures(clock_skew_s=0.4)}).status == VALID
    verdict = judge_load({"w": _figures(clock_skew_s=-0.6)})
    assert verdict.status == DEGRADED and "clock -0.600 s" in verdict.reasons[0]


def test_a_lost_worker_is_degraded_and_the_worst_finding_wins() -> None:
    assert judge_load({}, lost_workers=["worker-2"]).status == DEGRADED
    both = judge_load({"w": _figures(saturated_windows=50)}, lost_workers=["worker-2"])
    assert both.status == INVALID and len(both.reasons) == 2


def test_late_probes_are_invalid() -> None:
    assert judge_probes(probes=1000, late=10, max_lag_s=0.3).status == VALID
    assert judge_probes(probes=1000, late=11, max_lag_s=0.3).status == INVALID


# ----- the measuring parts ----------------------------------------------------------------------------------------

class _Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_cpu_demand_is_cpu_time_plus_run_queue_wait_per_window() -> None:
    clock, cpu, waited = _Counter(), _Counter(), _Counter()
    monitor = CpuMonitor(clock=clock, cpu=cpu, waited=waited, wall=clock)
    for used, queued in ((0.2, 0.0), (0.6, 0.35), (1.0, 0.0)):  # demand 0.2, 0.95, 1.0 in 1 s windows
        clock.value += 1.0
        cpu.value += used
        waited.value += queued
        monitor.sample()
    assert monitor.take_series() == [[0.0, 0.2, 0.0], [1.0, 0.6, 0.35], [2.0, 1.0, 0.0]]
    assert monitor.take_series() == []
    assert monitor.figures() == {"windows": 3, "saturated_windows": 2, "max_demand": 1.0}


def test_the_schedule_tells_generator_lag_from_backlog() -> None:
    clock = _Counter()
    clock.value = 100.0
    schedule = ArrivalSchedule(clock)
    schedule.set_rate(10.0)
    ahead = schedule.take()  # 100.0, taken on time: a free user sleeps until it
    assert ahead is not None
    schedule.note_start(ahead, ahead + 0.3)  # ...but wakes 300 ms late: the generator's fault
    clock.value = 101.0
    behind = schedule.take()  # 100.1, taken 0.9 s late: every user was busy
    assert behind is not None
    schedule.note_start(behind, 101.0)
    figures = schedule.figures()
    assert (figures["on_time_slots"], figures["late_wakeups"], figures["backlog_slots"]) == (1, 1, 1)
    assert figures["max_wake_lag_s"] == pytest.approx(0.3) and figures["max_lag_s"] == pytest.approx(0.9)


def test_arrival_samples_keep_both_latency_views() -> None:
    recorder = SampleRecorder(1.0)
    for lag_s in (0.0, 0.5):
        recorder.on_request("GET", "/x", 20.0, context={"rx_lag_s": lag_s}, start_time=1000.0)
    shipped = recorder.ship(2000.0)
    (window,) = shipped["windows"]
    intended = Histogram.from_dict(window["h"])
    sent = Histogram.from_dict(shipped["from_send"]["GET /x"])
    assert sent.count == intended.count == 2
    assert sent.max == pytest.approx(20_000, rel=1e-3)  # 20 ms both times
    assert intended.max == pytest.approx(520_000, rel=1e-3)  # the queue's 500 ms on top
    assert recorder.ship(2001.0)["from_send"] == {}  # shipped once


def test_an_invalid_run_folder_makes_the_slo_verdict_invalid(tmp_path: Path) -> None:
    (tmp_path / "latency.jsonl").write_text("")
    validity = judge_load({"local": _figures(saturated_windows=60)}).to_dict()
    (tmp_path / "load.json").write_text(json.dumps({"validity": validity}))
    assert read_validity(tmp_path).status == INVALID
    evaluation = evaluate_run(tmp_path)
    assert evaluation.verdict == INVALID and evaluation.exit_code == 4
    written = json.loads(write_slo_json(evaluation, tmp_path).read_text())
    assert written["verdict"] == INVALID and written["validity"] == validity


# ----- whole runs -------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def env_file(tmp_path: Path) -> Iterator[Path]:
    """An environment aimed at tests/trivial_server.py on a free port (stopped after the test)."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "trivial_server.py"), str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and "listening" in server.stdout.readline()
        (tmp_path / "creds.csv").write_text("email,password,role,user_id\n")
        path = tmp_path / "trivial.yaml"
        path.write_text(yaml.safe_dump({
            "name": "trivial", "kind": "staging", "base_url": f"http://127.0.0.1:{port}",
            "anon_key_env": "RX_TEST_ANON_KEY", "credentials_csv_env": "RX_TEST_CREDS", "allowed_jobs": ["load"],
            "caps": {"max_users": 100, "max_rate": 100_000},
            "users": {"probe": {"weight": 1}, "patient": {"weight": 0}, "doctor": {"weight": 0},
                      "pharmacist": {"weight": 0}, "realtime": {"weight": 0}},
        }))
        yield path
    finally:
        stop_child(server)  # type: ignore[arg-type]


def _start(env_file: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RX_TEST_ANON_KEY": "test-anon-key", "RX_TEST_CREDS": str(env_file.parent / "creds.csv")}
    return subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "load", "--env", str(env_file), "--runs-dir",
                             str(env_file.parent / "runs"), "--profile", "smoke", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str], timeout_s: float = 60) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode, out


def _run_dir(env_file: Path) -> Path:
    (run_dir,) = (env_file.parent / "runs").iterdir()
    return run_dir


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((run_dir / name).read_text())


def test_a_starved_generator_makes_the_run_invalid(env_file: Path) -> None:
    code, out = _finish(_start(env_file, "--duration", "5s", "--rate", "5000", "--users", "50"))
    run_dir = _run_dir(env_file)
    load, run, slo = _read(run_dir, "load.json"), _read(run_dir, "run.json"), _read(run_dir, "slo.json")
    assert code == 4, out
    assert load["validity"]["status"] == run["validity"]["status"] == slo["validity"]["status"] == INVALID
    assert any("generator CPU at or above 90%" in r for r in load["validity"]["reasons"])
    assert slo["verdict"] == INVALID and run["slo_verdict"] == INVALID and run["exit_code"] == 4
    assert load["generators"]["local"]["saturated_windows"] > 0.1 * load["generators"]["local"]["windows"]
    report = generate(for_run(run_dir), pdf=False)
    summary = report.html.read_text().split('<section id="summary"', 1)[1].split("</section>", 1)[0]
    assert report.exit_code == 4 and "<h2>Not enough evidence yet</h2>" in summary
    assert "The measurement itself cannot be trusted" in summary
    assert "generator CPU at or above 90%" in summary
    assert "p95 ms from send" in report.html.read_text()


def test_the_same_run_at_a_rate_it_can_keep_is_valid(env_file: Path) -> None:
    code, out = _finish(_start(env_file, "--duration", "5s", "--rate", "20", "--users", "5"))
    run_dir = _run_dir(env_file)
    load, run, slo = _read(run_dir, "load.json"), _read(run_dir, "run.json"), _read(run_dir, "slo.json")
    assert code == 0, out
    assert load["validity"] == run["validity"] == slo["validity"] == {"status": VALID, "reasons": []}
    assert load["generators"]["local"]["windows"] >= 4 and len(load["generator_cpu"]["local"]) >= 4
    sent, intended = load["from_send"]["overall"], load["overall"]
    assert sent["p50_ms"] <= intended["p50_ms"] and sent["max_ms"] <= intended["max_ms"]


def test_a_worker_killed_mid_run_makes_the_run_degraded(env_file: Path) -> None:
    proc = _start(env_file, "--duration", "60s", "--rate", "20", "--users", "4", "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        processes: dict[str, int] = {}
        while len(processes) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            runs = env_file.parent / "runs"
            folders = list(runs.iterdir()) if runs.exists() else []
            if folders and (folders[0] / "live.json").exists():
                processes = _read(folders[0], "run.json").get("processes", {})
        assert len(processes) == 3, "Locust did not start"
        time.sleep(3)
        os.kill(processes["worker-1"], signal.SIGKILL)
    finally:
        code, out = _finish(proc)
    run_dir = _run_dir(env_file)
    load, run = _read(run_dir, "load.json"), _read(run_dir, "run.json")
    assert code == 3, out  # aborted: no verdict
    assert run["validity"] == load["validity"]
    assert load["validity"]["status"] == DEGRADED
    assert load["from_send"]["overall"]["p50_ms"] is not None  # the workers' send-time view reached the master
    assert any(r.startswith("degraded: worker-1 lost mid-run") for r in load["validity"]["reasons"])
