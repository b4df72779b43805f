"""Ground truth at the edge: a region kept out for exactly 5.0 s with the backup region disabled is measured as
5.0 s of downtime (+-0.3 s); Ctrl-C in the middle of a fault runs the rollbacks and leaves the sandbox healthy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.environment import PROJECT_ROOT
from rxcore.jobs import QuietProgress, StopToken
from sandbox.chaos_driver import SandboxDriver
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from tests.conftest import running_sandbox

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 5150  # its own ports, beside the session's
_CHECKS = {"checks": [{"check": "sandbox_healthy"}, {"check": "availability", "window_s": 1, "min": 1.0}],
           "after_timeout_s": 30}
_EDGE_BACK = [
    {"driver": "sandbox", "action": "set_edge_server", "args": {"region": "region-a", "enabled": True}},
    {"driver": "sandbox", "action": "set_edge_server", "args": {"region": "region-b", "enabled": True}},
]


@pytest.fixture(scope="module")
def edge_sandbox() -> Iterator[Sandbox]:
    yield from running_sandbox(sandbox_variant(_OFFSET, "test-drill-edge"))


def _scenario(tmp_path: Path, method: list[dict], rollbacks: list[dict]) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": "edge-truth", "steady_state": _CHECKS, "method": method, "rollbacks": rollbacks,
        "objectives": [{"metric": "rto_s", "op": "<=", "target": 30, "critical": True}],
    }))
    return path


def test_a_region_down_for_five_seconds_is_measured_as_five_seconds(edge_sandbox: Sandbox, tmp_path: Path) -> None:
    method = [
        {"name": "failover disabled", "driver": "sandbox", "action": "set_edge_server",
         "args": {"region": "region-b", "enabled": False}, "at_s": 0, "duration_s": 1},
        {"name": "region-a down", "driver": "sandbox", "action": "set_edge_server",
         "args": {"region": "region-a", "enabled": False}, "duration_s": 5.0, "fault": True},
        {"name": "region-a back", "driver": "sandbox", "action": "set_edge_server",
         "args": {"region": "region-a", "enabled": True}, "duration_s": 1},
    ]
    env_file = write_sandbox_environment(edge_sandbox.config, tmp_path / "env.yaml")
    request = DrillRequest(env=str(env_file), scenario=str(_scenario(tmp_path, method, _EDGE_BACK)),
                           runs_dir=tmp_path / "runs")
    done = execute(plan(request), QuietProgress(), StopToken())
    code, result = done.exit_code, done.details["drill"]
    assert code == 0, result.get("reason")
    assert abs(result["downtime_s"] - 5.0) <= 0.3
    assert abs(result["rto_s"] - 5.0) <= 0.3


def test_ctrl_c_during_a_fault_runs_the_rollbacks(edge_sandbox: Sandbox, tmp_path: Path) -> None:
    method = [
        {"name": "failover disabled", "driver": "sandbox", "action": "set_edge_server",
         "args": {"region": "region-b", "enabled": False}, "at_s": 0},
        {"name": "kill region-a", "driver": "sandbox", "action": "kill_region", "args": {"region": "region-a"},
         "duration_s": 60, "fault": True},
    ]
    rollbacks = [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}, *_EDGE_BACK]
    env_file = write_sandbox_environment(edge_sandbox.config, tmp_path / "env.yaml")
    runs = tmp_path / "runs"
    drill = subprocess.Popen(
        [sys.executable, "-m", "rxsuite.cli", "drill", "--env", str(env_file), "--scenario",
         str(_scenario(tmp_path, method, rollbacks)), "--runs-dir", str(runs)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        journal = wait_for_fault(runs, timeout_s=40)
        time.sleep(1.0)
        drill.send_signal(signal.SIGINT)
        output, _ = drill.communicate(timeout=90)
    finally:
        if drill.poll() is None:
            drill.kill()
    result = json.loads(journal.read_text())
    rollbacks_run = [a for a in result["actions"] if a["phase"] == "rollback"]
    assert drill.returncode == 130, output
    assert result["status"] == "interrupted"
    assert result["verdict"] is None and "PASS" not in output  # a stopped drill shows no verdict
    assert [a["outcome"] for a in rollbacks_run] == ["ok", "ok", "ok"]
    assert SandboxDriver(edge_sandbox).problems() == []
    assert httpx.get(f"{edge_sandbox.edge_url}/health", timeout=2).json()["region"] == "region-a"


def wait_for_fault(runs: Path, timeout_s: float) -> Path:
    """The journal of the first drill under `runs` whose fault is in; tests interrupt a drill right after it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for journal in runs.glob("*/drill.json"):
            try:
                events = [e["event"] for e in json.loads(journal.read_text()).get("timeline", [])]
            except ValueError:
                continue
            if "fault_injected" in events:
                return journal
        time.sleep(0.1)
    raise AssertionError(f"no fault injected within {timeout_s} s")
