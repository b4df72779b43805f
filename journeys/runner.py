"""Run the journeys into a run folder: pytest in a child process per attempt, failed journeys retried, results
merged into ``journeys.json`` and ``junit.xml``, artifacts under ``artifacts/<journey>/attempt-<n>/``.

A child process per attempt keeps a crashed browser or a hung page from taking the caller down, and lets the
caller bound the whole run in time. The target (URL, anon key, credentials file) travels in environment
variables, never on a command line that ``ps`` would show.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from journeys import platform, results
from journeys.redact import Redactor
from rxcore.processes import start_child, stop_child

JOURNEYS_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = "artifacts"
TAG_FILTERS = {"smoke": "smoke", "full": "smoke or full"}
ATTEMPT_TIMEOUT_S = 600
PER_TEST_TIMEOUT_S = 120
EXIT_BROWSER_OR_TARGET = 4  # conftest: pytest.exit(..., returncode=4)
EXIT_NOTHING_COLLECTED = 5  # pytest's own code
_STOP_GRACE_S = 15.0  # a stopped attempt's pytest closes its browsers (fixture teardown) within this


class JourneysError(RuntimeError):
    """The journeys could not run at all (no browser, bad target, nothing selected); the message says why."""


@dataclass(frozen=True)
class JourneyOptions:
    base_url: str
    anon_key: str
    credentials_csv: Path
    tag: str = "smoke"
    headed: bool = False
    retries: int = 1
    select: str | None = None
    break_paths: tuple[str, ...] = ()
    environment: str = "sandbox"


@dataclass
class JourneysOutcome:
    results: list[results.JourneyResult]
    document: dict[str, Any]
    wall_s: float
    logs: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.document["summary"]["failed"] else 0


def run_journeys(options: JourneyOptions, run_dir: Path, stop: threading.Event | None = None) -> JourneysOutcome:
    """Run, retry what failed (``options.retries`` times), and write journeys.json and junit.xml. When `stop` is
    set the attempt in progress is interrupted (its pytest closes the browsers) and no retry follows."""
    stop = stop or threading.Event()
    if options.tag not in TAG_FILTERS:
        raise JourneysError(f"--tag {options.tag!r}: use one of {', '.join(TAG_FILTERS)}")
    started, started_at = time.monotonic(), datetime.now(UTC).isoformat(timespec="milliseconds")
    attempts: list[dict[str, Any]] = []
    logs: list[Path] = []
    merged: list[results.JourneyResult] = []
    retry: list[str] | None = None
    for number in range(1, options.retries + 2):
        attempt, log = _attempt(options, run_dir, number, retry, stop)
        attempts.append(attempt)
        logs.append(log)
        merged = results.merge(attempts)
        retry = results.failed_nodeids(merged)
        if not retry or stop.is_set():
            break
    document = results.journeys_document(
        merged, run_dir, environment=options.environment, base_url=options.base_url, tag=options.tag,
        started_at=started_at, wall_s=round(time.monotonic() - started, 3), retries=options.retries,
        browser_headed=options.headed)
    results.write_journeys_json(document, run_dir)
    results.write_junit(document, run_dir, f"journeys.{options.tag}")
    _scrub(options, run_dir)
    return JourneysOutcome(merged, document, time.monotonic() - started, logs)


def _attempt(options: JourneyOptions, run_dir: Path, number: int, nodeids: list[str] | None,
             stop: threading.Event) -> tuple[dict[str, Any], Path]:
    results_file = run_dir / f".attempt-{number}.json"
    log = run_dir / f"pytest-attempt-{number}.log"
    argv = [sys.executable, "-m", "pytest", *(nodeids or [str(JOURNEYS_DIR)]),
            "-p", "no:cacheprovider", "-q", "-rfE", "--color=no", f"--timeout={PER_TEST_TIMEOUT_S}",
            "--rootdir", str(JOURNEYS_DIR.parent),
            "-m", TAG_FILTERS[options.tag], f"--rx-results={results_file}",
            f"--rx-artifacts={run_dir / ARTIFACTS_DIR}", f"--rx-attempt={number}"]
    if options.headed:
        argv.append("--rx-headed")
    if options.select and nodeids is None:
        argv += ["-k", options.select]
    argv += [f"--rx-break-path={path}" for path in options.break_paths]
    env = {**os.environ, platform.BASE_URL_ENV: options.base_url, platform.ANON_KEY_ENV: options.anon_key,
           platform.CREDENTIALS_ENV: str(options.credentials_csv)}
    log.unlink(missing_ok=True)
    code = _wait(start_child(argv, log, env=env, cwd=JOURNEYS_DIR.parent), stop)
    if code is None:
        raise JourneysError(f"attempt {number} ran longer than {ATTEMPT_TIMEOUT_S} s and was stopped (see {log})")
    try:
        attempt = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        attempt = None
    finally:
        results_file.unlink(missing_ok=True)
    if attempt and attempt.get("error"):
        raise JourneysError(attempt["error"])
    if code == EXIT_NOTHING_COLLECTED or (attempt is not None and not attempt.get("tests")):
        raise JourneysError(f"no journey matches --tag {options.tag}"
                            + (f" and --select {options.select!r}" if options.select else ""))
    if attempt is None:
        raise JourneysError(f"the journeys' pytest process ended with code {code} without results: "
                            f"{_tail(log)} (full log: {log})")
    return attempt, log


def _wait(child: subprocess.Popen[bytes], stop: threading.Event) -> int | None:
    """The attempt's exit code; None when it overstayed. A stop is passed on as Ctrl-C (pytest then tears its
    browsers down); a child that will not go is killed by pid. The child never outlives this call."""
    deadline = time.monotonic() + ATTEMPT_TIMEOUT_S
    try:
        while child.poll() is None and not stop.is_set():
            if time.monotonic() >= deadline:
                stop_child(child, signal.SIGINT, _STOP_GRACE_S)
                return None
            stop.wait(0.2)
    finally:
        code = stop_child(child, signal.SIGINT, _STOP_GRACE_S)
    return code


def _scrub(options: JourneyOptions, run_dir: Path) -> None:
    """Last line of defence for the small text files: the anon key, every password of the credentials file and
    JWTs are masked wherever a log or message quoted them (trace zips are redacted as they are written)."""
    secrets = [options.anon_key, *(a.password for a in platform.read_accounts(options.credentials_csv))]
    redactor = Redactor(secrets)
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".xml", ".log", ".txt"):
            redactor.file(path)


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
