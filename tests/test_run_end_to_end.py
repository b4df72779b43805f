"""A real, short `rxsuite run` on its own sandbox ports: every stage runs, the report renders, the sandbox is down
afterwards and the exit code is the SLO verdict's. About three minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml

from reports.browser import check_render
from reports.render import SECTIONS
from rxcore.environment import PROJECT_ROOT, load_environment
from sandbox.stack import Sandbox

pytestmark = pytest.mark.slow
_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 50  # beside the session sandbox's ports
_RUN_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rxrun")
    raw = yaml.safe_load((PROJECT_ROOT / "environments" / "sandbox.yaml").read_text())
    raw["name"] = f"sandbox-run-{_OFFSET}"
    raw["sandbox"]["ports"] = {k: v + _OFFSET for k, v in raw["sandbox"]["ports"].items()}
    raw["sandbox"]["state_dir"] = f".rxsuite/test-run-{_OFFSET}"
    raw["base_url"] = f"http://127.0.0.1:{raw['sandbox']['ports']['edge']}"
    env_file = root / "sandbox-run.yaml"
    env_file.write_text(yaml.safe_dump(raw))
    done = subprocess.run([sys.executable, "-m", "rxsuite.cli", "run", "--env", str(env_file), "--runs-dir",
                           str(root / "runs"), "--duration", "20s", "--users", "8", "--rate", "10"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=_RUN_TIMEOUT_S, check=False)
    folders = list((root / "runs").glob("*-run-*"))
    assert len(folders) == 1, done.stdout + done.stderr
    return {"code": done.returncode, "out": done.stdout, "folder": folders[0], "env": env_file}


def test_every_stage_ran(finished_run: dict[str, Any]) -> None:
    run = json.loads((finished_run["folder"] / "run.json").read_text())
    stages = {s["name"]: s["status"] for s in run["stages"]}
    assert list(stages) == ["sandbox", "smoke journeys", "drill", "load", "journeys during the load", "slo",
                            "report"]
    assert not [name for name, status in stages.items() if status.startswith("skipped")]


def test_exit_code_is_the_slo_verdicts(finished_run: dict[str, Any]) -> None:
    slo_verdict = json.loads((finished_run["folder"] / "slo.json").read_text())["verdict"]
    verdict = json.loads((finished_run["folder"] / "run.json").read_text())["verdict"]
    assert (verdict == "fail") == (slo_verdict == "fail")
    assert finished_run["code"] == (1 if verdict == "fail" else 0)
    assert f"verdict   {verdict} (exit code {finished_run['code']})" in finished_run["out"]


def test_report_renders_and_is_printed(finished_run: dict[str, Any]) -> None:
    html = finished_run["folder"] / "report.html"
    assert f"report    {html}" in finished_run["out"]
    check = check_render(html, SECTIONS, screenshot=finished_run["folder"] / "report-screenshot.png")
    assert (check.sections_missing, check.console_errors, check.broken_images) == ([], [], [])
    assert (finished_run["folder"] / "report.pdf").stat().st_size > 0


def test_sandbox_is_down_afterwards(finished_run: dict[str, Any]) -> None:
    sandbox = Sandbox(load_environment(str(finished_run["env"])).sandbox)
    assert [p.name for p in sandbox.status() if p.running] == []
