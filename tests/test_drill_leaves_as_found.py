"""Drills leave the environment as they found it, or fail: a fault with no rollback is refused before anything is
touched, and a drill whose steady state does not hold afterwards fails (exit 1), whatever its other objectives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from chaos.scenario import STEADY_AFTER, load_scenario
from rxcore.environment import PROJECT_ROOT
from rxcore.errors import ConfigError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import QuietProgress, StopToken
from rxsuite.cli import main
from sandbox.chaos_driver import SandboxDriver
from sandbox.stack import Sandbox
from tests.test_drill_edge_truth import wait_for_fault

_KILL = {"name": "kill region-a", "driver": "sandbox", "action": "kill_region", "args": {"region": "region-a"},
         "at_s": 0, "duration_s": 1, "fault": True}
_ALWAYS_MET = {"name": "failed requests >= 0", "metric": "failed_requests", "op": ">=", "target": 0, "weight": 5}


def _write(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "leaves-as-found", "method": [_KILL], "objectives": [_ALWAYS_MET],
                                    **fields}))
    return path


def test_a_region_kill_without_rollback_is_refused_at_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    path = _write(tmp_path)
    code = main(["drill", "--scenario", str(path), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert f"{path}:1: rollbacks: none, but method[0] (kill region-a) acts on the target" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_fault_declared_self_healing_with_a_reason_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, self_healing=True, self_healing_reason="the platform restarts a killed region itself")
    assert load_scenario(str(path)).rollbacks == ()


def test_self_healing_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(_write(tmp_path, self_healing=True)))
    assert caught.value.field == "self_healing_reason"


def test_the_steady_state_after_is_added_as_a_critical_objective(tmp_path: Path) -> None:
    rollbacks = [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}]
    scenario = load_scenario(str(_write(tmp_path, rollbacks=rollbacks)))
    added = [o for o in scenario.objectives if o.metric == STEADY_AFTER]
    assert [(o.op, o.target, o.critical) for o in added] == [("==", 1.0, True)]


def test_a_steady_state_after_that_is_not_critical_is_refused(tmp_path: Path) -> None:
    rollbacks = [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}]
    objectives = [_ALWAYS_MET, {"metric": STEADY_AFTER, "op": "==", "target": 1, "critical": False}]
    with pytest.raises(ConfigError) as caught:
        load_scenario(str(_write(tmp_path, rollbacks=rollbacks, objectives=objectives)))
    assert caught.value.field == "objectives[1]"


@pytest.mark.parametrize("expect", ["pass", "fail"])
def test_a_drill_that_leaves_the_steady_state_broken_fails(sandbox: Sandbox, tmp_path: Path, expect: str) -> None:
    """The only rollback puts region-a back in rotation but never restarts it: every objective of the file is met,
    the steady state after is not, so the drill fails with exit 1, even when the file expects a failure."""
    rollbacks = [{"name": "region-a in rotation (not restarted)", "driver": "sandbox", "action": "set_edge_server",
                  "args": {"region": "region-a", "enabled": True}}]
    scenario = _write(tmp_path, rollbacks=rollbacks, expect=expect, designed_to_show="a failure",
                      steady_state={"checks": [{"check": "sandbox_healthy"}], "after_timeout_s": 2},
                      probes={"write": False})
    env_file = write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")
    request = DrillRequest(env=str(env_file), scenario=str(scenario), runs_dir=tmp_path / "runs",
                           background_load=False)
    try:
        done = execute(plan(request), QuietProgress(), StopToken())
        code, result = done.exit_code, done.details["drill"]
    finally:
        _restore(sandbox)
    met = {o["metric"]: o["met"] for o in result["objectives"]}
    assert code == ExitCode.FAIL, result.get("reason")
    assert result["steady_state_after"]["held"] is False
    assert met == {"failed_requests": True, STEADY_AFTER: False}
    assert result["verdict"] == "fail" and result["as_expected"] is False


def test_an_interrupted_drill_never_prints_or_records_pass(sandbox: Sandbox, tmp_path: Path) -> None:
    """Ctrl-C after the fault of a drill whose objectives are all met so far: no PASS, exit 130, verdict null."""
    rollbacks = [{"driver": "sandbox", "action": "ensure_region", "args": {"region": "region-a"}}]
    kill = {**_KILL, "duration_s": 60}
    scenario = _write(tmp_path, method=[kill], rollbacks=rollbacks, probes={"write": False},
                      steady_state={"checks": [{"check": "sandbox_healthy"}], "after_timeout_s": 30})
    env_file = write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")
    runs = tmp_path / "runs"
    drill = subprocess.Popen([sys.executable, "-m", "rxsuite.cli", "drill", "--env", str(env_file), "--scenario",
                              str(scenario), "--runs-dir", str(runs), "--no-load"], cwd=PROJECT_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        journal = wait_for_fault(runs, timeout_s=60)
        drill.send_signal(signal.SIGINT)
        output, _ = drill.communicate(timeout=90)
    finally:
        if drill.poll() is None:
            drill.kill()
        _restore(sandbox)
    result = json.loads(journal.read_text())
    assert drill.returncode == ExitCode.INTERRUPTED, output
    assert (result["status"], result["verdict"], result["as_expected"]) == ("interrupted", None, False)
    assert "PASS" not in output


def _restore(sandbox: Sandbox) -> None:
    """Restart region-a and wait until the edge sees it again, so the shared sandbox is left as found."""
    driver = SandboxDriver(sandbox)
    driver.run("ensure_region", {"region": "region-a"}, None)  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while driver.problems() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert driver.problems() == []
