"""Journey verdicts without a browser: retries merged into passed / flaky / failed, JUnit XML, page templates,
and the choice of browser."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from journeys.journey import missing_security_headers, page_template
from journeys.redact import Redactor
from journeys.results import journeys_document, merge, write_junit
from rxcore import browser

NODE = "journeys/test_patient.py::test_patient_pays_with_a_card"


def _attempt(outcome: str, **extra: Any) -> dict[str, Any]:
    test = {"nodeid": NODE, "outcome": outcome, "duration_s": 1.5, "error": None, "journey": "patient-pays",
            "tags": ["full"], "steps": [{"journey": "patient-pays", "step": "pay", "duration_s": 0.5, "ok": True}],
            "page_loads": [], "console_errors": [], "artifacts": [], **extra}
    return {"format": "rxsuite-journeys-attempt/1", "tests": [test]}


def test_a_journey_passing_on_its_retry_is_flaky() -> None:
    results = merge([_attempt("failed", error="timeout"), _attempt("passed")])
    assert [r.outcome for r in results] == ["flaky"]


def test_a_journey_failing_every_attempt_is_failed() -> None:
    results = merge([_attempt("failed"), _attempt("failed")])
    assert [r.outcome for r in results] == ["failed"]


def test_journeys_json_counts_flaky_apart_and_keeps_every_attempts_steps(tmp_path: Path) -> None:
    document = journeys_document(merge([_attempt("failed"), _attempt("passed")]), tmp_path)
    assert document["format"] == "rxsuite-journeys/1"
    assert document["summary"] == {"passed": 0, "flaky": 1, "failed": 0, "skipped": 0}
    assert [s["attempt"] for s in document["steps"]] == [1, 2]


def test_junit_marks_a_flaky_journey_with_flaky_failure(tmp_path: Path) -> None:
    artifact = tmp_path / "artifacts" / "patient-pays" / "attempt-1" / "trace-patient.zip"
    document = journeys_document(
        merge([_attempt("failed", error="AssertionError: no status", artifacts=[str(artifact)],
                        failed_step="pay"), _attempt("passed")]), tmp_path)
    case = ET.parse(write_junit(document, tmp_path, "journeys.full")).getroot().find("testsuite/testcase")
    assert case is not None
    assert case.find("failure") is None
    flaky = case.find("flakyFailure")
    assert flaky is not None and flaky.get("message") == "step 'pay': AssertionError: no status"
    assert "artifacts/patient-pays/attempt-1/trace-patient.zip" in (flaky.text or "")
    assert case.find("properties/property[@name='outcome']").get("value") == "flaky"  # type: ignore[union-attr]


def test_page_template_groups_rows_of_one_page() -> None:
    assert page_template("/checkout/0b9e1f0e-9bd1-42c1-bc84-8f79e053cffd") == "/checkout/{id}"
    assert page_template("/dashboard") == "/dashboard"


def test_playwrights_own_chromium_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser.BROWSER_ENV, raising=False)
    bundled = tmp_path / "chrome"
    bundled.write_text("")
    assert browser.launch_options(str(bundled), headed=False) == {"headless": True}


def test_system_chromium_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser.BROWSER_ENV, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/chromium" if name == "chromium" else None)
    options = browser.launch_options(str(tmp_path / "missing"), headed=False)
    assert options["executable_path"] == "/usr/bin/chromium"
    assert "--no-sandbox" in options["args"]


def test_no_chromium_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser.BROWSER_ENV, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(browser.BrowserMissing, match="playwright install chromium"):
        browser.launch_options(str(tmp_path / "missing"), headed=False)


def test_a_page_without_security_headers_is_named() -> None:
    good = {"content-security-policy": "default-src 'self'; frame-ancestors 'none'",
            "strict-transport-security": "max-age=31536000", "x-content-type-options": "nosniff",
            "referrer-policy": "strict-origin-when-cross-origin"}
    weak = {k: v for k, v in good.items() if k != "referrer-policy"} | {"content-security-policy": "default-src *"}
    problems = missing_security_headers([
        {"url": "http://x/dashboard", "status": 200, "headers": good},
        {"url": "http://x/sign-in", "status": 200, "headers": weak},
    ])
    assert problems == ["http://x/sign-in (HTTP 200): missing or weak content-security-policy, referrer-policy"]


def test_redactor_masks_secrets_and_tokens_inside_a_trace_zip(tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    with zipfile.ZipFile(trace, "w") as out:
        out.writestr("trace.trace", f'{{"fill":"p@ss word!","cookie":"rx_session={token}"}}')
        out.writestr("trace.network", "email=a%40b&password=p%40ss+word%21")
    Redactor(["p@ss word!"]).zip(trace)
    with zipfile.ZipFile(trace) as result:
        content = b"".join(result.read(name) for name in result.namelist())
    assert b"p@ss" not in content and b"p%40ss" not in content and b"eyJ" not in content
    assert content.count(b"[redacted]") == 3
