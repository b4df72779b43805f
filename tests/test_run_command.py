"""`rxsuite run` orchestration without a real platform: the sandbox it starts is always stopped, a job that is not
installed is a skipped stage, and the exit code follows the SLO verdict."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rxsuite import cmd_run
from rxsuite.cli import main
from rxsuite.display import Display
from tests import report_inputs


class FakeSandbox:
    """Stands in for sandbox.stack.Sandbox: records up/down, holds no secrets."""

    instances: ClassVar[list[FakeSandbox]] = []

    def __init__(self, config: Any) -> None:
        self.calls: list[str] = []
        FakeSandbox.instances.append(self)

    def up(self, on_step: Any = None) -> bool:
        self.calls.append("up")
        return True

    def down(self) -> list[str]:
        self.calls.append("down")
        return []

    anon_key = service_key = jwt_secret = webhook_secret = "fake-secret-value"
    credentials: ClassVar[list[dict[str, str]]] = []


@pytest.fixture
def fake_sandbox(monkeypatch: pytest.MonkeyPatch) -> list[FakeSandbox]:
    import sandbox.stack

    FakeSandbox.instances = []
    monkeypatch.setattr(sandbox.stack, "Sandbox", FakeSandbox)
    return FakeSandbox.instances


def _stages_writing(monkeypatch: pytest.MonkeyPatch, write: Any) -> None:
    """Replace the job stages with one that writes prepared stage folders (what the jobs would leave)."""
    monkeypatch.setattr(cmd_run, "_smoke_journeys", lambda request, env, run_dir, stages, stop: None)
    monkeypatch.setattr(cmd_run, "_load_with_journeys", lambda request, env, run_dir, stages, stop: write(run_dir))
    monkeypatch.setattr(cmd_run, "_drill", lambda request, env, run_dir, stages, stop: None)


def test_sandbox_is_stopped_when_a_stage_fails(tmp_path: Path, fake_sandbox: list[FakeSandbox],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(run_dir: Path) -> None:
        raise RuntimeError("load crashed")

    _stages_writing(monkeypatch, explode)
    with pytest.raises(RuntimeError, match="load crashed"):
        main(["run", "--runs-dir", str(tmp_path), "--no-pdf"])
    assert fake_sandbox[0].calls == ["up", "down"]
    run = json.loads(next(tmp_path.glob("*-run-sandbox/run.json")).read_text())
    assert (run["status"], run["exit_code"]) == ("failed", 2)


def test_sandbox_is_stopped_on_ctrl_c(tmp_path: Path, fake_sandbox: list[FakeSandbox],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(run_dir: Path) -> None:
        raise KeyboardInterrupt

    _stages_writing(monkeypatch, interrupt)
    assert main(["run", "--runs-dir", str(tmp_path), "--no-pdf"]) == 130
    assert fake_sandbox[0].calls == ["up", "down"]


def test_sigterm_stops_the_run_records_terminated_and_stops_the_sandbox(tmp_path: Path,
                                                                        fake_sandbox: list[FakeSandbox],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def terminate(request: Any, env: Any, run_dir: Path, stages: Any, stop: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the run's handler sets its stop token; the next stages do not start
        time.sleep(0.2)

    loads: list[Path] = []
    _stages_writing(monkeypatch, loads.append)
    monkeypatch.setattr(cmd_run, "_drill", terminate)
    assert main(["run", "--runs-dir", str(tmp_path), "--no-pdf"]) == 143
    run = json.loads(next(tmp_path.glob("*-run-sandbox/run.json")).read_text())
    assert (run["status"], run["exit_code"], loads) == ("terminated", 143, [])
    assert fake_sandbox[0].calls == ["up", "down"]


def test_exit_code_and_report_follow_the_slo_verdict(tmp_path: Path, fake_sandbox: list[FakeSandbox],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    started = datetime(2026, 11, 20, 10, tzinfo=UTC)
    _stages_writing(monkeypatch, lambda run_dir: report_inputs.load_run(run_dir, started, error_share=0.05))
    assert main(["run", "--runs-dir", str(tmp_path), "--no-pdf"]) == 1
    folder = next(tmp_path.glob("*-run-sandbox"))
    assert json.loads((folder / "slo.json").read_text())["verdict"] == "fail"
    out = capsys.readouterr().out
    assert f"report    {folder / 'report.html'}" in out
    assert "verdict   fail (exit code 1)" in out
    assert fake_sandbox[0].calls == ["up", "down"]


def test_enough_evidence_shows_pass_and_the_banner_says_what_was_shown(tmp_path: Path,
                                                                       fake_sandbox: list[FakeSandbox],
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    started = datetime(2026, 11, 20, 10, tzinfo=UTC)  # 3,600 requests without a failure: 2,995 show 99.9 %
    _stages_writing(monkeypatch, lambda run_dir: report_inputs.load_run(run_dir, started, seconds=90, rps=40))
    assert main(["run", "--runs-dir", str(tmp_path), "--no-pdf"]) == 0
    run = json.loads(next(tmp_path.glob("*-run-sandbox/run.json")).read_text())
    assert (run["verdict"], run["shown_missed"]) == ("pass", [])
    assert {"availability (>= 99.9%)", "latency-p95 (p95 < 3s)"} <= set(run["shown_met"])
    out = capsys.readouterr().out
    assert "shown met at 95% confidence: availability (>= 99.9%), latency-p95 (p95 < 3s)" in out
    assert "verdict   pass (exit code 0)" in out


def test_too_little_evidence_is_not_a_pass_and_strict_makes_it_exit_3(tmp_path: Path,
                                                                       fake_sandbox: list[FakeSandbox],
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    started = datetime(2026, 11, 20, 10, tzinfo=UTC)  # 1,200 requests: too few to show 99.9 %
    _stages_writing(monkeypatch, lambda run_dir: report_inputs.load_run(run_dir, started, seconds=30, rps=40))
    assert main(["run", "--runs-dir", str(tmp_path / "a"), "--no-pdf"]) == 0
    assert main(["run", "--runs-dir", str(tmp_path / "b"), "--no-pdf", "--strict"]) == 3
    out = capsys.readouterr().out
    assert "not shown either way (too little evidence in this run): availability (>= 99.9%)" in out
    assert "verdict   insufficient-data (exit code 0)" in out


def test_a_job_that_is_not_installed_is_a_skipped_stage() -> None:
    stages = cmd_run.Stages(Display("test", rich=False), total=1)
    result = stages.run("future job", "not written yet", lambda: pytest.fail("a missing job was called"),
                        "no_such_job.job")
    assert result is None and stages.stages[0].status == cmd_run.SKIPPED_UNAVAILABLE


def test_production_environment_is_refused(tmp_path: Path) -> None:
    env = tmp_path / "prod.yaml"
    env.write_text("name: prod\nkind: production\nbase_url: https://rx.example\nallowed_jobs: [run]\n")
    assert main(["run", "--env", str(env), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()
