"""`rxsuite load` end to end against a trivial local endpoint: run folder, distributed merge, and stopping cleanly
when interrupted, when a worker dies and when the target vanishes. (The platform's own flows: test_load_sandbox.)"""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from slo.records import OUTCOMES, iter_windows
from tests.children import interruptible

ROOT = Path(__file__).resolve().parent.parent
RXSUITE = [sys.executable, "-m", "rxsuite.cli", "load"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Endpoint:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "trivial_server.py"), str(self.port)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and "listening" in self.proc.stdout.readline()

    def served(self) -> int:
        return int(httpx.get(f"{self.url}/_count", timeout=5).text)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture()
def env_file(tmp_path: Path, endpoint: Endpoint) -> Path:
    creds = tmp_path / "creds.csv"
    creds.write_text("email,password,role,user_id\n")
    path = tmp_path / "trivial.yaml"
    path.write_text(yaml.safe_dump({
        "name": "trivial", "kind": "staging", "base_url": endpoint.url, "anon_key_env": "RX_TEST_ANON_KEY",
        "credentials_csv_env": "RX_TEST_CREDS", "allowed_jobs": ["load"], "caps": {"max_users": 20, "max_rate": 200},
        "users": {"probe": {"weight": 1, "wait": [0.02, 0.05]}, "patient": {"weight": 0}, "doctor": {"weight": 0},
                  "pharmacist": {"weight": 0}, "realtime": {"weight": 0}},
    }))
    return path


def _start(env_file: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RX_TEST_ANON_KEY": "test-anon-key", "RX_TEST_CREDS": str(env_file.parent / "creds.csv")}
    # --skip-checks: the pre-flight's own requests reach the server but belong to no run, and these tests compare
    # the run's record with what the server served
    return subprocess.Popen([*RXSUITE, "--env", str(env_file), "--runs-dir", str(env_file.parent / "runs"),
                             "--skip-checks", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=interruptible)


def _finish(proc: subprocess.Popen[str], timeout_s: float = 90) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out


def _run_dir(env_file: Path) -> Path:
    (run_dir,) = (env_file.parent / "runs").iterdir()
    return run_dir


def _wait_for_processes(run_dir: Path, count: int, timeout_s: float = 30) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            processes = json.loads((run_dir / "run.json").read_text()).get("processes", {})
        except (OSError, ValueError):
            processes = {}
        if len(processes) == count and (run_dir / "live.json").exists():
            return processes
        time.sleep(0.2)
    raise AssertionError(f"{run_dir}: Locust did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _record_totals(run_dir: Path) -> Counter[str]:
    totals: Counter[str] = Counter()
    for window in iter_windows(run_dir):
        totals.update(window.outcomes)
    return totals


def test_smoke_run_writes_a_complete_folder_whose_counts_match_the_server(env_file: Path, endpoint: Endpoint) -> None:
    code, out = _finish(_start(env_file, "--profile", "smoke", "--duration", "4s", "--users", "3"))
    assert code == 0, out
    run_dir = _run_dir(env_file)
    run = json.loads((run_dir / "run.json").read_text())
    assert (run["status"], run["exit_code"], run["mode"]) == ("completed", 0, "closed")
    assert "test-anon-key" not in (run_dir / "run.json").read_text()
    assert {"latency.jsonl", "load.json", "live.json", "slo.json", "load-config.json"} <= {
        p.name for p in run_dir.iterdir()}
    totals = _record_totals(run_dir)
    assert totals["ok"] == endpoint.served() > 0
    assert sum(totals.values()) == totals["ok"]
    # the summary totals the same windows as the record, the last ones included
    assert json.loads((run_dir / "load.json").read_text())["overall"]["requests"] == totals["ok"]


def test_arrival_rate_run_says_which_mode_ran(env_file: Path) -> None:
    code, out = _finish(_start(env_file, "--profile", "smoke", "--duration", "4s", "--rate", "40", "--users", "5"))
    assert code == 0, out
    run_dir = _run_dir(env_file)
    summary = json.loads((run_dir / "load.json").read_text())
    assert summary["mode"] == "arrival" and "intended start" in summary["mode_note"]
    assert json.loads((run_dir / "run.json").read_text())["mode"] == "arrival"
    assert 0.8 * 4 * 40 <= summary["overall"]["requests"] <= 1.1 * 4 * 40
    assert summary["overall"]["requests"] == sum(_record_totals(run_dir).values())


def _raw_by_window(run_dir: Path) -> dict[str, Counter[tuple[float, str, str]]]:
    per_source: dict[str, Counter[tuple[float, str, str]]] = {}
    for path in sorted((run_dir / "raw").glob("*.csv.gz")):
        with gzip.open(path, "rt") as src:
            per_source[path.name] = Counter((float(int(float(r["end_time"]))), r["name"], r["outcome"])
                                            for r in csv.DictReader(src))
    return per_source


def test_distributed_run_merges_the_workers_into_one_record(env_file: Path, endpoint: Endpoint) -> None:
    code, out = _finish(_start(env_file, "--profile", "smoke", "--duration", "5s", "--users", "6", "--workers", "2",
                               "--raw"))
    assert code == 0, out
    run_dir = _run_dir(env_file)
    per_worker = _raw_by_window(run_dir)
    assert len(per_worker) == 2 and all(sum(c.values()) > 0 for c in per_worker.values())
    expected: Counter[tuple[float, str, str]] = sum(per_worker.values(), Counter())
    recorded: Counter[tuple[float, str, str]] = Counter()
    keys = set()
    for window in iter_windows(run_dir):
        assert (window.start, window.name) not in keys  # one line per window and name
        keys.add((window.start, window.name))
        for outcome in OUTCOMES:
            if window.outcomes.get(outcome):
                recorded[(window.start, window.name, outcome)] += window.outcomes[outcome]
    assert recorded == expected
    assert sum(expected.values()) == endpoint.served()
    assert len(json.loads((run_dir / "load.json").read_text())["sources"]) == 2


def test_ctrl_c_stops_cleanly_with_a_readable_record(env_file: Path) -> None:
    proc = _start(env_file, "--profile", "baseline", "--duration", "60s", "--users", "3", "--workers", "1")
    run_dir = None
    try:
        deadline = time.monotonic() + 30
        while run_dir is None and time.monotonic() < deadline:
            runs = list((env_file.parent / "runs").glob("*")) if (env_file.parent / "runs").exists() else []
            run_dir = runs[0] if runs else None
            time.sleep(0.2)
        assert run_dir is not None
        processes = _wait_for_processes(run_dir, 2)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        code, out = _finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, out
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "interrupted" and [e["kind"] for e in run["events"]] == ["interrupted"]
    assert _record_totals(run_dir)["ok"] > 0
    assert json.loads((run_dir / "load.json").read_text())["stop_reason"] == "signal"
    assert not any(_alive(pid) for pid in processes.values())


def test_a_dying_worker_stops_the_run_and_is_recorded(env_file: Path) -> None:
    proc = _start(env_file, "--profile", "baseline", "--duration", "60s", "--users", "4", "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while not (env_file.parent / "runs").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        run_dir = _run_dir(env_file)
        processes = _wait_for_processes(run_dir, 3)
        time.sleep(3)
        os.kill(processes["worker-1"], signal.SIGKILL)
        code, out = _finish(proc, 90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 3, out
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "aborted" and run["reason"] == "a worker died mid-run"
    assert [e["kind"] for e in run["events"]] == ["worker_died"]
    assert _record_totals(run_dir)["ok"] > 0
    assert not any(_alive(pid) for pid in processes.values())


def test_a_vanished_target_aborts_the_run(env_file: Path, endpoint: Endpoint) -> None:
    proc = _start(env_file, "--profile", "baseline", "--duration", "60s", "--users", "3", "--abort-after", "3s")
    try:
        deadline = time.monotonic() + 30
        while not (env_file.parent / "runs").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        run_dir = _run_dir(env_file)
        processes = _wait_for_processes(run_dir, 1)
        time.sleep(3)
        endpoint.kill()
        code, out = _finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 3, out
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "aborted" and run["reason"].startswith("target unreachable")
    totals = _record_totals(run_dir)
    assert totals["ok"] > 0 and totals["connection_error"] > 0
    assert not any(_alive(pid) for pid in processes.values())


def test_capacity_profile_judges_every_step_and_reports_the_highest_sustainable_rate(env_file: Path) -> None:
    code, out = _finish(_start(env_file, "--profile", "capacity", "--duration", "9s", "--steps", "3", "--users", "6"))
    assert code == 0, out
    run_dir = _run_dir(env_file)
    capacity = json.loads((run_dir / "capacity.json").read_text())
    assert [s["step"] for s in capacity["steps"]] == [0, 1, 2]
    assert all(s["held"] for s in capacity["steps"])  # a trivial endpoint holds the SLO at 6 users
    assert capacity["highest_sustainable_rps"] == max(s["achieved_rps"] for s in capacity["steps"]) > 0
    assert json.loads((run_dir / "load.json").read_text())["capacity"]["steps"] == capacity["steps"]


def test_a_background_run_can_be_stopped_by_its_holder(tmp_path: Path, endpoint: Endpoint) -> None:
    """The entry point a drill holds: start now, stop later, and the record is complete up to the stop."""
    from locustfiles.config import LoadConfig, only_models
    from locustfiles.launcher import Launch, LoadRun
    from rxcore.environment import PlatformTarget
    from rxcore.runfolder import RunFolder

    models = only_models(probe={"weight": 1, "wait": [0.05, 0.1]})
    config = LoadConfig(base_url=endpoint.url, profile="baseline", users=3, duration_s=120, user_models=models)
    (tmp_path / "creds.csv").write_text("email,password,role\n")
    folder = RunFolder.create(tmp_path / "runs", "load", "trivial")
    load = LoadRun(Launch(config, PlatformTarget(endpoint.url, "key", tmp_path / "creds.csv")), folder)
    load.start()
    deadline = time.monotonic() + 30
    while not (folder.path / "live.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    load.stop()
    outcome = load.wait()
    assert (outcome.status, outcome.exit_code) == ("completed", 0)
    assert outcome.summary is not None and outcome.summary["stop_reason"] == "signal"
    assert _record_totals(folder.path)["ok"] == endpoint.served() > 0


def test_environment_caps_are_enforced_before_anything_starts(env_file: Path) -> None:
    code, out = _finish(_start(env_file, "--users", "21"))
    assert code == 2
    assert "caps.max_users: --users 21 is above the cap 20" in out
    assert not (env_file.parent / "runs").exists()


def test_production_needs_an_explicit_flag(env_file: Path) -> None:
    data = yaml.safe_load(env_file.read_text())
    env_file.write_text(yaml.safe_dump({**data, "kind": "production"}))
    code, out = _finish(_start(env_file, "--users", "2"))
    assert code == 2 and "--allow-production" in out
