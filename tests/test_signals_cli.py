"""SIGTERM and SIGHUP stop every command as SIGINT does: children stopped by pid, run.json says `terminated`,
exit 143; a second signal forces the stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rxcore.environment import PROJECT_ROOT
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Stopped, StopToken, stop_on_signals
from rxcore.processes import ProcessRef, is_running, port_is_free, start_child, stop_child
from sandbox import postgres
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.test_load_run import endpoint, env_file  # noqa: F401  (fixtures)

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 800


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout_s:g} s")


def _run_json(runs: Path) -> dict[str, Any]:
    (folder,) = runs.iterdir()
    return json.loads((folder / "run.json").read_text())


def _processes(runs: Path) -> dict[str, int]:
    """The Locust processes run.json lists so far (none while the folder or its first run.json is being made)."""
    try:
        return dict(_run_json(runs).get("processes") or {})
    except (OSError, ValueError):
        return {}


def test_sigterm_stops_a_load_run_and_its_locust_processes(env_file: Path) -> None:  # noqa: F811
    runs = env_file.parent / "runs"
    env = {**os.environ, "RX_TEST_ANON_KEY": "test-anon-key", "RX_TEST_CREDS": str(env_file.parent / "creds.csv")}
    proc = subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "load", "--env", str(env_file), "--runs-dir",
                             str(runs), "--profile", "baseline", "--duration", "60s", "--users", "3", "--workers", "1"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: len(_processes(runs)) == 2, 60, "Locust master and worker started")
        processes = _processes(runs)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.TERMINATED, out
    run = _run_json(runs)
    assert (run["status"], run["exit_code"]) == ("terminated", 143)
    assert [e["kind"] for e in run["events"]] == ["terminated"]
    assert not any(_alive(pid) for pid in processes.values())


def _sandbox_env_file(tmp_path: Path) -> tuple[Path, Sandbox]:
    config = sandbox_variant(_OFFSET, f"test-signals-{_OFFSET}")
    path = tmp_path / "sandbox.yaml"
    path.write_text(yaml.safe_dump({"kind": "sandbox", "base_url": config.url("edge"),
                                    "sandbox": {"state_dir": str(config.state_dir), "ports": config.ports}}))
    return path, Sandbox(config)


def _recorded(sandbox: Sandbox) -> list[ProcessRef]:
    state = json.loads((sandbox.state_dir / "state.json").read_text())
    return [ProcessRef.from_json(p["process"]) for p in state["parts"].values() if p.get("process")]


def test_sigterm_during_sandbox_up_leaves_nothing_running(tmp_path: Path) -> None:
    sandbox_env, sandbox = _sandbox_env_file(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "sandbox", "up", "--env", str(sandbox_env)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # terminate once the apps are being started: most parts are running then
            output.append(line)
            if line.startswith("region-a\tstarting"):
                break
        started = _recorded(sandbox)
        proc.send_signal(signal.SIGTERM)
        output.append(proc.communicate(timeout=90)[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        sandbox.down()
    assert proc.returncode == ExitCode.TERMINATED, "".join(output)
    assert started and not any(is_running(ref) for ref in started)
    layout = sandbox.layout()
    assert not [node for node in postgres.NODES if postgres.postmaster_pid(layout, node) is not None]
    assert all(port_is_free(port) for port in sandbox.config.ports.values())


@pytest.mark.parametrize(("signum", "status", "code"), [(signal.SIGINT, "interrupted", 130),
                                                        (signal.SIGTERM, "terminated", 143),
                                                        (signal.SIGHUP, "terminated", 143)])
def test_each_stop_signal_is_recorded_as_it_ended(signum: int, status: str, code: int) -> None:
    stop = StopToken()
    with stop_on_signals(stop, raise_first=False):
        os.kill(os.getpid(), signum)
        assert stop.wait(5)
    assert (stop.status, int(stop.exit_code)) == (status, code)


def test_the_first_signal_raises_and_a_second_forces_without_raising() -> None:
    stop, forced = StopToken(), []
    stop.on_force(lambda: forced.append(True))
    with stop_on_signals(stop, raise_first=True):
        with pytest.raises(Stopped):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGTERM)  # during a cleanup: must not cut it short
        time.sleep(0.1)
    assert (stop.forced, forced) == (True, [True])


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (by parent pid, whatever session it is in)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_sigterm_stops_the_journeys_and_their_browsers(sandbox: Sandbox, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "RX_SANDBOX_ANON_KEY": sandbox.anon_key, "RX_CREDENTIALS_CSV": str(sandbox.credentials_file)}
    proc = subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "journeys", "--env", "sandbox", "--base-url",
                             sandbox.edge_url, "--runs-dir", str(runs), "--tag", "full"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: any("chrom" in _command_name(p) for p in _descendants(proc.pid)), 90, "a browser started")
        below = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.TERMINATED, out
    assert (_run_json(runs)["status"], _run_json(runs)["exit_code"]) == ("terminated", 143)
    _wait_for(lambda: not any(_alive(pid) and _not_zombie(pid) for pid in below), 10, "every browser process gone")


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(errors="replace")
    except OSError:
        return ""


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_child_that_ignores_its_stop_signal_is_killed_after_the_grace(tmp_path: Path) -> None:
    ignoring = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); " \
               "time.sleep(60)"
    child = start_child([sys.executable, "-c", ignoring], tmp_path / "child.log")
    _wait_for(lambda: "ready" in (tmp_path / "child.log").read_text(), 20, "the child ignoring SIGINT")
    began = time.monotonic()
    code = stop_child(child, signal.SIGINT, grace_s=1.0)
    assert (code, child.poll()) == (-signal.SIGKILL, -signal.SIGKILL)
    assert 1.0 <= time.monotonic() - began < 10.0 and not _alive(child.pid)
