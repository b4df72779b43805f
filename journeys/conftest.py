"""The journeys' pytest plugin: one browser per session, a ``journey`` per test, results for the runner.

Run through ``rxsuite journeys`` (``journeys.runner``), which passes the target in environment variables and
reads the results file written here (``--rx-results``): per test its outcome, error, steps, page loads, console
errors and artifacts. Tags are pytest markers: ``smoke`` (read-only, synthetic accounts, safe in production) and
``full`` (writes: renewals, payments, decisions).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from journeys.journey import Journey
from journeys.platform import ANON_KEY_ENV, JourneyTarget, TargetError
from journeys.redact import Redactor
from rxcore.browser import BrowserMissing, launch_options
from rxcore.files import write_json_atomic

RESULTS_FORMAT = "rxsuite-journeys-attempt/1"
TAGS = ("smoke", "full")
_RESULTS = pytest.StashKey["_Results"]()
_FAILED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rxsuite journeys")
    group.addoption("--rx-results", type=Path, help="write this attempt's results (JSON) here")
    group.addoption("--rx-artifacts", type=Path, help="folder for failure artifacts")
    group.addoption("--rx-attempt", type=int, default=1, help="attempt number (1 = first run, 2+ = retries)")
    group.addoption("--rx-headed", action="store_true", help="show the browser")
    group.addoption("--rx-break-path", action="append", default=[],
                    help="serve this page path as a 500 error (checks that failures leave artifacts)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smoke: read-only journey on synthetic accounts, safe in production")
    config.addinivalue_line("markers", "full: journey that writes (renewals, payments, decisions)")
    config.stash[_RESULTS] = _Results(config)
    config.pluginmanager.register(config.stash[_RESULTS], "rxsuite-journey-results")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(tag) for tag in TAGS):
            raise pytest.UsageError(f"{item.nodeid}: every journey needs a tag marker: smoke or full")


class _Results:
    """Per test: outcome over setup/call/teardown, the first error, and what its journey recorded."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tests: dict[str, dict[str, Any]] = {}
        self.error: str | None = None
        self.redactor = Redactor([os.environ.get(ANON_KEY_ENV, "")])

    def entry(self, nodeid: str) -> dict[str, Any]:
        return self.tests.setdefault(nodeid, {"nodeid": nodeid, "outcome": "passed", "duration_s": 0.0,
                                              "error": None})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed:
            item.stash[_FAILED] = True
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.entry(report.nodeid)
        entry["duration_s"] = round(entry["duration_s"] + report.duration, 4)
        if report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["error"] = self._short(report)
        elif report.failed:
            if entry["outcome"] != "failed":
                entry["error"] = self._short(report)
                entry["failed_in"] = report.when
            entry["outcome"] = "failed"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.config.getoption("--rx-results")
        if path is not None:
            write_json_atomic(path, {"format": RESULTS_FORMAT, "attempt": self.config.getoption("--rx-attempt"),
                                     "error": self.error, "tests": list(self.tests.values())})

    def _short(self, report: pytest.TestReport) -> str:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = str(crash.message)[:2000] if crash is not None else str(report.longrepr)[-2000:]
        return self.redactor.text(text)


def _stop_session(config: pytest.Config, message: str) -> NoReturn:
    """A problem no journey can get past (no browser, no target): say it once and stop."""
    config.stash[_RESULTS].error = message
    pytest.exit(message, returncode=4)


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> JourneyTarget:
    try:
        return JourneyTarget.from_environment()
    except TargetError as exc:
        _stop_session(pytestconfig, str(exc))


@pytest.fixture(scope="session")
def browser(pytestconfig: pytest.Config) -> Iterator[Browser]:
    playwright: Playwright = sync_playwright().start()
    try:
        try:
            options = launch_options(playwright.chromium.executable_path,
                                     headed=pytestconfig.getoption("--rx-headed"))
        except BrowserMissing as exc:
            _stop_session(pytestconfig, str(exc))
        launched = playwright.chromium.launch(**options)
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def journey(request: pytest.FixtureRequest, browser: Browser, target: JourneyTarget) -> Iterator[Journey]:
    config = request.config
    name = request.node.name.removeprefix("test_").replace("_", "-")
    artifacts_root = config.getoption("--rx-artifacts") or Path("artifacts")
    attempt = config.getoption("--rx-attempt")
    journey = Journey(name, browser, target, artifacts_root / name / f"attempt-{attempt}",
                      tuple(config.getoption("--rx-break-path")))
    started = time.time()
    problems: list[str] = []
    try:
        yield journey
        if not request.node.stash.get(_FAILED, False):
            problems = journey.missing_security_headers()
    finally:
        journey.finish(failed=request.node.stash.get(_FAILED, False) or bool(problems))
        entry = config.stash[_RESULTS].entry(request.node.nodeid)
        entry.update({
            "journey": name,
            "tags": [tag for tag in TAGS if request.node.get_closest_marker(tag)],
            "started_at": round(started, 3),
            "steps": journey.steps,
            "page_loads": journey.page_loads,
            "failed_step": next((step["step"] for step in reversed(journey.steps) if not step["ok"]), None),
            "console_errors": journey.console_errors(),
            "artifacts": [str(path) for path in journey.artifacts],
        })
    if problems:
        pytest.fail("pages without the security headers: " + "; ".join(problems), pytrace=False)

