"""The monitor job's lifecycle: `plan` refuses before anything runs (allowed jobs, synthetic account, rate cap,
bound, metrics port); `execute` runs rounds of checks on a fixed clock into the environment's record until its
bound or a stop, keeping the record, the status file and `/metrics` current.

Rounds start at start + n × every; a round that overruns skips the ticks it missed (never a burst to catch up).
A stop (SIGINT, SIGTERM, SIGHUP) lets the API check in progress finish (bounded by its timeout), abandons a
journey round in progress (its browsers are closed), closes the record and returns 130 / 143.
On start the record's last check says whether the monitor was away: the unobserved time is recorded as a gap.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from journeys.runner import JourneyOptions
from monitor.checks import API_CHECKS, NOT_REACHED, ApiTarget, run_api_checks
from monitor.evidence import EvidenceKeeper
from monitor.metrics import MonitorMetrics
from monitor.smoke import smoke_round
from monitor.state import Maintenance, StateChange, Tracker, window_at
from rxcore.credentials import Credential, CredentialsError, read_credentials
from rxcore.environment import Environment, load_environment, platform_target
from rxcore.envschema import Monitor
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode
from rxcore.files import write_json_atomic
from rxcore.jobs import DEFAULT_RUNS_DIR, Progress, QuietProgress, Result, StopToken, check_allowed
from rxcore.processes import port_is_free
from rxcore.redact import Scrubber
from rxcore.validation import parse_duration
from slo.monitorstore import CheckResult, MonitorStore, store_folder

__all__ = ["DEFAULT_BOUND_S", "JOB", "MONITOR_PATIENT", "STATUS_FILE", "MonitorPlan", "MonitorRequest", "execute",
           "plan"]

JOB = "monitor"
DEFAULT_BOUND_S = 24 * 3600.0  # without --until or --count a monitor stops after a day (a service restarts it)
MONITOR_PATIENT = 13  # the 13th patient from the end of the credentials file: journeys use 3-12, contract tests 1-2
STATUS_FILE = "status.json"
GAP_AFTER_INTERVALS = 1.5  # a record that stopped longer ago than this many intervals has a gap
_CHANGES_KEPT = 200


@dataclass(frozen=True)
class MonitorRequest:
    env: str = "sandbox"
    every: str | None = None  # "2s", "5m"; None: the environment file's monitor.every_s
    checks: str | None = None  # smoke | api | all; None: the file's monitor.checks
    until: str | None = None  # an ISO time (UTC when it has no offset) or a duration from now ("30m")
    count: int | None = None  # rounds
    metrics_port: int | None = None
    runs_dir: Path = DEFAULT_RUNS_DIR
    break_page: tuple[str, ...] = ()
    select: str | None = None  # only the smoke journeys whose test name matches (pytest -k)


@dataclass(frozen=True)
class MonitorPlan:
    request: MonitorRequest
    env: Environment
    settings: Monitor
    every_s: float
    checks: str
    deadline: float | None
    count: int | None
    metrics_port: int | None
    folder: Path
    api: ApiTarget | None
    journeys: JourneyOptions | None
    maintenance: tuple[Maintenance, ...]
    secrets: tuple[str, ...] = field(repr=False)


def plan(request: MonitorRequest) -> MonitorPlan:
    env = load_environment(request.env)
    check_allowed(env, JOB)
    if env.kind == "production" and JOB not in env.allowed_jobs:
        raise ConfigError(str(env.file), "allowed_jobs", "a production environment must list monitor to be monitored",
                          "add monitor to allowed_jobs if the environment's owner agrees")
    settings = env.raw.get("monitor")
    checked = Monitor.model_validate(settings or {})
    every_s = _every(request.every, checked.every_s)
    checks = request.checks or checked.checks
    if checks not in ("smoke", "api", "all"):
        raise RxError(f"--checks {checks!r}: use smoke, api or all")
    count, deadline = _bound(request.count, request.until)
    _check_rate(env, checked, checks, every_s)
    metrics_port = request.metrics_port if request.metrics_port is not None else checked.metrics_port
    if metrics_port is not None and not port_is_free(metrics_port):
        raise RxError(f"--metrics-port {metrics_port}: the port is taken on 127.0.0.1; pick a free one "
                      "(or set monitor.metrics_port)")
    for path in request.break_page:
        if not path.startswith("/"):
            raise RxError(f"--break-page {path!r}: give a page path starting with /, e.g. /dashboard")
    target = platform_target(env)
    patient = _patient(env, target.credentials_csv)
    api = ApiTarget(target.base_url, target.anon_key, patient, min(10.0, max(1.0, every_s))) \
        if checks in ("api", "all") else None
    journeys = JourneyOptions(target.base_url, target.anon_key, target.credentials_csv, tag="smoke", retries=0,
                              select=request.select, break_paths=request.break_page, environment=env.name) \
        if checks in ("smoke", "all") else None
    maintenance = tuple(Maintenance(w.start.timestamp(), w.end.timestamp(), w.reason) for w in checked.maintenance)
    return MonitorPlan(request, env, checked, every_s, checks, deadline, count, metrics_port,
                       store_folder(request.runs_dir, env.name), api, journeys, maintenance,
                       (target.anon_key, patient.password))


def _every(text: str | None, default_s: float) -> float:
    if text is None:
        return default_s
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise RxError(f"--every: {exc}") from None
    if seconds < 1:
        raise RxError(f"--every {text}: at least 1s between rounds")
    return seconds


def _bound(count: int | None, until: str | None) -> tuple[int | None, float | None]:
    """(rounds, deadline): `--count`, `--until`, both (whichever comes first), or the default bound of a day."""
    if count is not None and count < 1:
        raise RxError(f"--count {count}: give 1 round or more")
    if until is None:
        return count, None if count is not None else time.time() + DEFAULT_BOUND_S
    try:
        deadline = time.time() + parse_duration(until)
    except ValueError:
        try:
            when = datetime.fromisoformat(until)
        except ValueError:
            raise RxError(f"--until {until!r}: give a time (2026-12-06T18:00, UTC unless it has an offset) or a "
                          "duration from now (30m, 8h)") from None
        deadline = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if deadline <= time.time():
        raise RxError(f"--until {until}: that time has passed; give a later one")
    return count, deadline


def _check_rate(env: Environment, settings: Monitor, checks: str, every_s: float) -> None:
    """The API round alone must fit the cap (journeys are counted as they run and waited for when over it)."""
    if checks == "smoke":
        return
    per_minute = len(API_CHECKS) * 60.0 / every_s
    if per_minute > settings.max_checks_per_minute:
        slowest = math.ceil(len(API_CHECKS) * 60.0 / settings.max_checks_per_minute)
        raise ConfigError(str(env.file), "monitor.max_checks_per_minute",
                          f"every {every_s:g} s the API checks make {per_minute:g} checks a minute, over the cap "
                          f"of {settings.max_checks_per_minute:g}",
                          f"run less often (--every {slowest}s or more), or raise the cap if the environment's "
                          "owner agrees")


def _patient(env: Environment, csv: Path) -> Credential:
    """The monitor's own synthetic patient; under `synthetic_domain` when the file names one (required in
    production: the monitor never signs in as a real person)."""
    try:
        patients = [c for c in read_credentials(csv) if c.role == "patient"]
    except CredentialsError as exc:
        raise RxError(str(exc)) from None
    if len(patients) < MONITOR_PATIENT:
        raise RxError(f"{csv}: {len(patients)} patient accounts; the monitor uses the {MONITOR_PATIENT}th from the "
                      "end (the journeys use the last twelve): create more synthetic patients (rxsuite accounts)")
    patient = patients[-MONITOR_PATIENT]
    domain = env.raw.get("synthetic_domain")
    if env.kind == "production" and not domain:
        raise ConfigError(str(env.file), "synthetic_domain", "a production environment needs synthetic_domain to "
                          "be monitored", "name the e-mail domain of your synthetic accounts")
    if domain and not patient.email.lower().endswith("@" + str(domain).lower()):
        raise ConfigError(str(env.file), "synthetic_domain", f"the monitor's account {patient.email} is not under "
                          f"{domain}", "use a credentials file of synthetic accounts only")
    return patient


class _RateCap:
    """At most `per_minute` checks started in any 60 s; a check over the cap waits (or the stop ends the wait)."""

    def __init__(self, per_minute: float, stop: threading.Event) -> None:
        self.limit = max(1, int(per_minute))
        self.stop = stop
        self.started: deque[float] = deque()

    def take(self) -> None:
        while True:
            now = time.monotonic()
            while self.started and now - self.started[0] >= 60.0:
                self.started.popleft()
            if len(self.started) < self.limit or self.stop.is_set():
                self.started.append(now)
                return
            self.stop.wait(60.0 - (now - self.started[0]))

    def add(self, count: int) -> None:
        """Checks that started without asking (the journeys of a round, run by one pytest) count all the same."""
        self.started.extend([time.monotonic()] * max(0, count))


class _Run:
    """One execute: the record, the x-of-y tracker, the evidence, /metrics and the status file."""

    def __init__(self, job: MonitorPlan, progress: Progress, stop: StopToken) -> None:
        self.job = job
        self.progress = progress
        self.stop = stop
        self.tracker = Tracker(job.settings.down_after, job.settings.down_of)
        self.scrubber = Scrubber(job.secrets)
        self.evidence = EvidenceKeeper(job.folder, job.settings.evidence_keep, self.scrubber)
        self.metrics = MonitorMetrics()
        self.cap = _RateCap(job.settings.max_checks_per_minute, stop)
        self.store: MonitorStore | None = None
        self.rounds = 0
        self.ok = 0
        self.failed = 0
        self.in_maintenance = 0
        self.changes: list[StateChange] = []
        self.started_at = time.time()
        self.gap: dict[str, Any] | None = None
        self.earlier_changes: list[dict[str, Any]] = []

    def open(self) -> None:
        """Open the record (refused while another monitor writes it), record the time away as a gap, carry the
        earlier runs' state changes over, serve /metrics."""
        self.store = MonitorStore(self.job.folder, self.job.env.name)
        self.earlier_changes = _earlier_changes(self.job.folder / STATUS_FILE)
        last, now = self.store.last_started_at(), time.time()
        if last is not None and now - last > GAP_AFTER_INTERVALS * self.job.every_s:
            self.store.record_gap(last, now, "the monitor was not running")
            missed = max(0, math.floor((now - last) / self.job.every_s) - 1)
            self.gap = {"start": last, "end": now, "missed_rounds": missed}
            self.progress.note("resumed", f"the record's last check started {_iso(last)}; {now - last:.0f} s "
                               f"not observed (about {missed} round(s) missed), recorded as a gap")
        if self.job.metrics_port is not None:
            self.metrics.serve(self.job.metrics_port)
            self.progress.note("metrics", f"http://127.0.0.1:{self.job.metrics_port}/metrics")

    def close(self, status: str) -> None:
        self.metrics.close()
        if self.store is not None:  # else the record was never ours: its status file is another run's
            self.store.close()
            self.write_status(status)

    def round(self) -> None:
        self.metrics.maintenance.set(1 if window_at(self.job.maintenance, time.time()) else 0)
        if self.job.api is not None:
            for outcome in run_api_checks(self.job.api, self.stop, self.cap.take):
                evidence = None if outcome.ok or outcome.detail.startswith(NOT_REACHED) else \
                    self.evidence.keep_response(outcome.check, outcome.started_at, outcome.detail, outcome.response)
                self.record(CheckResult(outcome.check, outcome.started_at, outcome.duration_s, outcome.ok,
                                        outcome.detail, evidence))
        if self.job.journeys is not None and not self.stop.is_set():
            self.cap.take()
            with smoke_round(self.job.journeys, self.job.folder, self.stop) as journeys:
                self.cap.add(len(journeys) - 1)
                for check in journeys:
                    evidence = None if check.ok or not check.artifacts else self.evidence.keep_files(
                        check.check, check.started_at, list(check.artifacts))
                    self.record(CheckResult(check.check, check.started_at, check.duration_s, check.ok,
                                            check.detail, evidence))
        self.rounds += 1
        down = ", ".join(self.tracker.down_checks()) or "none"
        cut = " (cut short by the stop)" if self.stop.is_set() else ""
        self.progress.note("round", f"{self.rounds}{cut}: {self.ok} ok, {self.failed} failed so far; down: {down}")
        self.write_status("running")

    def record(self, result: CheckResult) -> None:
        """Append one check (its detail redacted, marked when in a maintenance window) and judge its state."""
        assert self.store is not None
        window = window_at(self.job.maintenance, result.started_at)
        detail = self.scrubber.text(result.detail)
        if window is not None:
            detail = f"maintenance: {window.reason}" + (f"; {detail}" if detail else "")
            self.in_maintenance += 1
        result = CheckResult(result.check, result.started_at, result.duration_s, result.ok, detail, result.evidence)
        self.store.append(result)
        self.ok += result.ok
        self.failed += not result.ok
        change = None if window is not None else self.tracker.feed(result.check, result.started_at, result.ok)
        self.metrics.observe(result.check, result.ok, result.duration_s, self.tracker.is_down(result.check))
        if not result.ok:
            self.progress.note("failed", f"{result.check}: {result.detail}")
        if change is not None:
            self.changes.append(change)
            self.progress.note(change.state, _describe(change, self.job.every_s))

    def write_status(self, status: str) -> None:
        """status.json beside the record: every check's state, the state changes, the current maintenance."""
        window = window_at(self.job.maintenance, time.time())
        down = self.tracker.down_checks()
        write_json_atomic(self.job.folder / STATUS_FILE, {
            "environment": self.job.env.name, "status": status, "started_at": self.started_at,
            "updated_at": time.time(), "every_s": self.job.every_s, "checks": self.job.checks,
            "rule": {"down_after": self.job.settings.down_after, "down_of": self.job.settings.down_of},
            "rounds": self.rounds, "ok": self.ok, "failed": self.failed, "in_maintenance": self.in_maintenance,
            "down": {check: {"since": since} for check, since in down.items()},
            "maintenance": None if window is None else {"start": window.start, "end": window.end,
                                                        "reason": window.reason},
            "gap": self.gap,
            "changes": [*self.earlier_changes, *(c.to_json() for c in self.changes)][-_CHANGES_KEPT:]}, durable=False)


def execute(job: MonitorPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    progress = progress or QuietProgress()
    stop = stop or StopToken()
    run = _Run(job, progress, stop)
    status = "failed"
    try:
        run.open()
        progress.note("record", str(job.folder))
        start = time.monotonic()
        tick = 0
        while not stop.is_set():
            if job.deadline is not None and time.time() >= job.deadline:
                break
            run.round()
            tick = max(tick + 1, math.ceil((time.monotonic() - start) / job.every_s))
            due = start + tick * job.every_s
            if job.count is not None and run.rounds >= job.count:
                break
            wait = due - time.monotonic()
            if job.deadline is not None:
                wait = min(wait, job.deadline - time.time())
            stop.wait(max(0.0, wait))
        status = stop.status if stop.is_set() else "completed"
    finally:
        run.close(status)
    down = run.tracker.down_checks()
    details = {"rounds": run.rounds, "ok": run.ok, "failed": run.failed, "in_maintenance": run.in_maintenance,
               "down": sorted(down), "changes": [c.to_json() for c in run.changes], "gap": run.gap,
               "status_file": str(job.folder / STATUS_FILE)}
    if stop.is_set():
        return Result(stop.exit_code, stop.status, job.folder, None, stop.describe(), details)
    if down:
        return Result(ExitCode.FAIL, "completed", job.folder, "down", f"down at the end: {', '.join(sorted(down))}",
                      details)
    return Result(ExitCode.OK, "completed", job.folder, "up", f"{run.rounds} round(s), nothing down at the end",
                  details)


def _earlier_changes(status_file: Path) -> list[dict[str, Any]]:
    """The state changes an earlier run left in status.json (none when it is missing or unreadable)."""
    try:
        changes = json.loads(status_file.read_text(encoding="utf-8")).get("changes")
    except (OSError, ValueError, AttributeError):
        return []
    return [c for c in changes if isinstance(c, dict)] if isinstance(changes, list) else []


def _describe(change: StateChange, every_s: float) -> str:
    if change.state == "down":
        return (f"{change.check} DOWN: {change.failed} of its last {change.of} checks failed (failing since "
                f"{_iso(change.since)})")
    return (f"{change.check} UP at {_iso(change.at)}: down for {change.at - change.since:.1f} s "
            f"(to within {every_s:g} s)")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
