"""A deliberately broken page (served as a 500 by `--break-page`) fails its journey and leaves a screenshot, a
Playwright trace and the console errors in the run folder. (Retries and flaky verdicts: test_journeys_results.)"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import pytest

from tests.journeys_helpers import JourneysRun, run_journeys

pytestmark = pytest.mark.slow

JOURNEY = "patient-signs-in-and-sees-prescriptions"
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


@pytest.fixture(scope="module")
def broken_run(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> JourneysRun:
    return run_journeys(sandbox, tmp_path_factory.mktemp("broken") / "runs", "--tag", "smoke",
                        "--select", "signs_in_and_sees_prescriptions", "--retries", "0",
                        "--break-page", "/prescriptions/{id}",
                        "--break-page", "/dashboard")


def test_broken_page_fails_the_run(broken_run: JourneysRun) -> None:
    assert broken_run.code == 1, broken_run.output
    journey = broken_run.journey(JOURNEY)
    assert journey["outcome"] == "failed"
    assert [a["outcome"] for a in journey["attempts"]] == ["failed"]


def test_failure_leaves_screenshot_and_trace(broken_run: JourneysRun) -> None:
    folder = broken_run.run_dir / "artifacts" / JOURNEY / "attempt-1"
    assert (folder / "screenshot-patient.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with zipfile.ZipFile(folder / "trace-patient.zip") as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())


def test_failure_records_console_errors_and_the_failed_step(broken_run: JourneysRun) -> None:
    attempt = broken_run.journey(JOURNEY)["attempts"][-1]
    assert attempt["failed_step"]
    assert any("500" in line for line in attempt["console_errors"])
    assert "500" in (broken_run.run_dir / "artifacts" / JOURNEY / "attempt-1" / "console-errors.txt").read_text()


def test_junit_reports_the_failure_with_its_artifacts(broken_run: JourneysRun) -> None:
    case = ET.parse(broken_run.run_dir / "junit.xml").getroot().find("testsuite/testcase")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and "trace-patient.zip" in (failure.text or "")
    assert "screenshot-patient.png" in (case.findtext("system-out") or "")


def test_run_folder_holds_no_secret(broken_run: JourneysRun, sandbox: Any) -> None:
    password = next(a["password"] for a in reversed(sandbox.credentials) if a["role"] == "patient")
    secrets = [sandbox.anon_key.encode(), password.encode()]
    for path in broken_run.run_dir.rglob("*"):
        if not path.is_file():
            continue
        blobs = [path.read_bytes()]
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as trace:
                blobs = [trace.read(name) for name in trace.namelist()]
        for blob in blobs:
            assert not any(secret in blob for secret in secrets), f"{path} holds a secret"
            assert not JWT.search(blob), f"{path} holds an access token"
