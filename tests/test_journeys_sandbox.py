"""The full journey set through a real browser against the test sandbox: every journey passes and the run
folder holds what CI and the SLO evaluator read (journeys.json with steps and vitals, junit.xml, run.json)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.journeys_helpers import JourneysRun, run_journeys

pytestmark = pytest.mark.slow

FULL_SET = {
    "patient-signs-in-and-sees-prescriptions", "patient-requests-a-renewal", "patient-pays-with-a-card",
    "patient-sees-a-clear-message-when-the-card-is-declined", "doctor-approves-and-the-patients-page-updates-live",
    "doctor-rejects-a-renewal", "pharmacist-dispenses-and-the-patient-sees-it", "care-team-queues-open",
    "pages-redirect-to-sign-in-without-session", "patient-cannot-open-another-patients-prescription",
    "security-headers-on-every-page",
}
VITALS = ("lcp_s", "inp_s", "cls", "ttfb_s", "fcp_s")


@pytest.fixture(scope="module")
def full_run(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> JourneysRun:
    return run_journeys(sandbox, tmp_path_factory.mktemp("journeys") / "runs", "--tag", "full")


def test_every_journey_of_the_full_set_passes(full_run: JourneysRun) -> None:
    outcomes = {j["journey"]: j["outcome"] for j in full_run.document["journeys"]}
    assert outcomes == dict.fromkeys(FULL_SET, "passed"), full_run.output
    assert full_run.code == 0


def test_run_json_records_the_completed_run(full_run: JourneysRun) -> None:
    run = full_run.run_json
    assert (run["job"], run["status"], run["exit_code"]) == ("journeys", "completed", 0)
    assert run["journeys"] == {"passed": len(FULL_SET), "flaky": 0, "failed": 0, "skipped": 0}


def test_every_journey_records_timed_steps(full_run: JourneysRun) -> None:
    steps = full_run.document["steps"]
    assert {s["journey"] for s in steps} == FULL_SET
    assert all(s["ok"] and s["duration_s"] > 0 for s in steps)


def test_page_loads_carry_web_vitals(full_run: JourneysRun) -> None:
    loads = full_run.document["page_loads"]
    pages = {load["page"] for load in loads}
    assert {"/sign-in", "/dashboard", "/prescriptions/{id}", "/checkout/{id}", "/renewals/new", "/doctor/queue",
            "/pharmacy/queue"} <= pages
    for load in loads:
        assert load["load_s"] > 0
        assert set(load["vitals"]) == set(VITALS)
        assert load["vitals"]["ttfb_s"] > 0 and load["vitals"]["fcp_s"] > 0 and load["vitals"]["lcp_s"] > 0


def test_typing_key_by_key_gives_the_form_an_inp(full_run: JourneysRun) -> None:
    """The renewal journey types its note key by key: every key press is an interaction INP counts."""
    (form,) = [load for load in full_run.document["page_loads"]
               if load["journey"] == "patient-requests-a-renewal" and load["page"] == "/renewals/new"]
    assert form["interactions"] >= len("Synthetic journey check.")
    assert form["vitals"]["inp_s"] is not None and form["vitals"]["inp_s"] > 0


def test_junit_lists_every_journey_without_failures(full_run: JourneysRun) -> None:
    suite = ET.parse(full_run.run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == (str(len(FULL_SET)), "0")
    assert len(suite.findall("testcase")) == len(FULL_SET)


def test_passing_journeys_leave_no_artifacts(full_run: JourneysRun) -> None:
    artifacts = full_run.run_dir / "artifacts"
    assert not artifacts.exists() or not any(Path(artifacts).rglob("*.zip"))
