"""`rxsuite run [--env NAME]`: everything at once, the README's first command.

With the sandbox (the default): starts it (or reuses one already running), runs the smoke journeys, one drill
(db-primary-loss), an arrival-rate load run long enough to show the availability and latency objectives at 95 %
confidence (the journeys run again during it: the user's experience under load), evaluates the SLOs over all of
it, writes the report, and stops the sandbox it started (always, also on failure or a signal). Each
stage is its job's own `plan` and `execute`, called in-process; its run folder is a stage folder inside this
run's folder.

Exit codes follow `rxsuite load`: 0 no SLO failed (the banner says what could not be shown; --strict makes that
3), 1 an SLO failed, 2 the run could not start or produced nothing to judge, 130 interrupted, 143 terminated.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore import validation
from rxcore.environment import PROJECT_ROOT, Environment, load_environment
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import DEFAULT_RUNS_DIR, Result, Stopped, StopToken, check_allowed, stop_on_signals
from rxcore.runfolder import RunFolder
from rxsuite.console import fail
from rxsuite.display import Display

JOB = "run"
DEFAULT_SCENARIO = "db-primary-loss"
SKIPPED_UNAVAILABLE = "skipped: not available"
# A flat arrival rate (the smoke profile's shape) of 60 task iterations/s for 75 s: about 4,500 requests, enough to
# show 99.9 % availability at 95 % confidence (one-sided, no failure: 2,995 valid requests) and each request
# name's p95. A ramp from zero is avoided: users would take their first slots at the ramp's tiny early rate.
DEFAULT_PROFILE, DEFAULT_RATE, DEFAULT_USERS, DEFAULT_DURATION = "smoke", 60.0, 40, "75s"
_JOURNEYS_JOIN_S = 300


@dataclass
class Stage:
    name: str
    status: str = "pending"  # pending, running, ok, finished with exit code N, skipped: ...
    exit_code: int | None = None
    seconds: float | None = None
    folder: str | None = None


@dataclass
class Stages:
    """Each stage's start and end on the display, with the time since the run began."""

    display: Display
    total: int
    started: float = field(default_factory=time.monotonic)
    stages: list[Stage] = field(default_factory=list)

    def begin(self, name: str, what: str) -> Stage:
        stage = Stage(name, "running")
        self.stages.append(stage)
        self.display.note(f"[{len(self.stages)}/{self.total}] {name}", what)
        return stage

    def end(self, stage: Stage, status: str, exit_code: int | None, began: float, folder: Path | None = None) -> None:
        stage.status, stage.exit_code, stage.seconds = status, exit_code, round(time.monotonic() - began, 1)
        stage.folder = folder.name if folder is not None else None
        self.display.note(f"[{self.stages.index(stage) + 1}/{self.total}] {stage.name}", f"{status} "
                          f"({stage.seconds:.0f} s)")

    def skip(self, name: str, what: str, why: str) -> None:
        began = time.monotonic()
        self.end(self.begin(name, what), f"skipped: {why}", None, began)

    def run(self, name: str, what: str, job: Callable[[], Result], module: str) -> Result | None:
        """A stage is its job's plan and execute (from `module`); a refusal is the stage's outcome (exit 2), the
        run goes on; a job that is not installed is a skipped stage."""
        began = time.monotonic()
        stage = self.begin(name, what)
        if not _installed(module):
            self.end(stage, SKIPPED_UNAVAILABLE, None, began)
            return None
        try:
            result = job()
        except RxError as exc:
            self.display.note("error", f"{name}: {exc}")
            self.end(stage, f"refused: {exc}", ExitCode.ERROR, began)
            return None
        status = "ok" if result.exit_code == ExitCode.OK else f"finished with exit code {int(result.exit_code)}"
        self.end(stage, status, int(result.exit_code), began, result.run_dir)
        return result


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is missing
        return False


@dataclass(frozen=True)
class RunRequest:
    env: str = "sandbox"
    runs_dir: Path = DEFAULT_RUNS_DIR
    profile: str = DEFAULT_PROFILE
    users: int = DEFAULT_USERS
    rate: float | None = DEFAULT_RATE
    duration: str = DEFAULT_DURATION
    scenario: str = DEFAULT_SCENARIO
    drill: bool = True
    journeys: bool = True
    pdf: bool = True
    keep_sandbox: bool = False
    strict: bool = False


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="everything at once: sandbox, journeys, load, drill, SLOs, report",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders go")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help=f"load profile (default: {DEFAULT_PROFILE}, flat)")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS,
                        help=f"load users: the pool the arrival rate draws on (default {DEFAULT_USERS})")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help=f"load arrival rate, task iterations per second (default {DEFAULT_RATE:g}); 0: closed "
                             "loop with --users")
    parser.add_argument("--duration", default=DEFAULT_DURATION, help=f"load run length (default {DEFAULT_DURATION})")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"drill scenario (default {DEFAULT_SCENARIO})")
    parser.add_argument("--no-drill", action="store_true", help="skip the drill")
    parser.add_argument("--no-journeys", action="store_true", help="skip the browser journeys")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    parser.add_argument("--keep-sandbox", action="store_true", help="leave a sandbox this run started running")
    parser.add_argument("--strict", action="store_true", help="exit 3 when no SLO failed but data was insufficient")
    parser.set_defaults(func=run_all)


def run_all(args: argparse.Namespace) -> int:
    request = RunRequest(env=args.env, runs_dir=args.runs_dir, profile=args.profile, users=args.users,
                         rate=args.rate or None, duration=args.duration, scenario=args.scenario,
                         drill=not args.no_drill, journeys=not args.no_journeys, pdf=not args.no_pdf,
                         keep_sandbox=args.keep_sandbox, strict=args.strict)
    try:
        env = plan(request)
    except RxError as exc:
        fail(str(exc))
        return ExitCode.ERROR
    stop = StopToken()
    with Display("rxsuite run") as display, stop_on_signals(stop, False, lambda text: display.note("signal", text)):
        return int(execute(request, env, display, stop))


def plan(request: RunRequest) -> Environment:
    """The run's own refusals; each stage's job plans (and may refuse) when its turn comes."""
    validation.option("--duration", validation.duration, request.duration)
    validation.option("--users", validation.count, request.users, 1, 1_000_000)
    env = load_environment(request.env)
    check_allowed(env, JOB)
    if env.kind == "production":
        raise RxError(f"{env.file}: kind is production: `rxsuite run` (load and a drill) is not for production; "
                      "run the jobs one by one with their own guards")
    return env


def execute(request: RunRequest, env: Environment, display: Display, stop: StopToken) -> ExitCode:
    folder = RunFolder.create(request.runs_dir, JOB, env.name, environment={"name": env.name, "kind": env.kind},
                              parameters={"profile": request.profile, "users": request.users, "rate": request.rate,
                                          "duration": request.duration,
                                          "scenario": request.scenario if request.drill else None},
                              project_root=PROJECT_ROOT)
    stages = Stages(display, total=7)
    display.note("run folder", str(folder.path))
    sandbox, started_sandbox = None, False
    try:
        sandbox, started_sandbox = _sandbox_up(env, stages, stop)
        # The drill before the load: the page it checks for judges the last minute of traffic (the sandbox's
        # compressed hour), which the load's heavy traffic would dilute below the page's burn rate.
        for step in (_smoke_journeys, _drill, _load_with_journeys):
            if stop.is_set():
                break
            step(request, env, folder.path, stages, stop)
        if stop.is_set():
            folder.finish(stop.status, stop.exit_code, stop.describe(), stages=[vars(s) for s in stages.stages])
            return stop.exit_code
        slo = _evaluate(request, folder, stages)
        report = _report(request, folder, stages, sandbox)
        verdict = RunVerdict.of(slo, request.strict)
        folder.finish("completed", verdict.exit_code, stages=[vars(s) for s in stages.stages],
                      slo_verdict=slo.verdict, verdict=verdict.verdict, shown_met=verdict.met,
                      shown_missed=verdict.missed, not_shown=verdict.not_shown)
        _print_result(stages, folder.path, report, verdict)
        return verdict.exit_code
    except KeyboardInterrupt as exc:
        if not stop.is_set():
            stop.request(exc.signum if isinstance(exc, Stopped) else signal.SIGINT)
        folder.finish(stop.status, stop.exit_code, stop.describe(), stages=[vars(s) for s in stages.stages])
        return stop.exit_code
    except Exception as exc:
        folder.finish("failed", ExitCode.ERROR, repr(exc), stages=[vars(s) for s in stages.stages])
        raise
    finally:
        if started_sandbox and sandbox is not None and not request.keep_sandbox:
            display.note("sandbox", "stopping the sandbox this run started")
            sandbox.down()


def _sandbox_up(env: Environment, stages: Stages, stop: StopToken) -> tuple[Any, bool]:
    """The sandbox is started here (it blocks without polling `stop`: a signal raises, and `up` stops every part it
    had started before the exception leaves it)."""
    if env.sandbox is None:
        stages.skip("sandbox", f"not used ({env.name} is a {env.kind} environment)", "not a sandbox environment")
        return None, False
    from sandbox.stack import Sandbox

    began = time.monotonic()
    stage = stages.begin("sandbox", "starting the embedded platform (PostgreSQL pair, apps, edge, stubs)")
    sandbox = Sandbox(env.sandbox)
    with stop_on_signals(stop, True, lambda text: stages.display.note("signal", text)):
        started = sandbox.up(lambda part, state, detail: stages.display.note(part, f"{state} {detail}".strip()))
    stages.end(stage, "ok: started" if started else "ok: reused the running sandbox (left running after)", 0, began)
    return sandbox, started


def _journeys_job(env: Environment, run_dir: Path, stop: StopToken, display: Display) -> Result:
    from journeys.job import JourneysRequest, execute, plan

    return execute(plan(JourneysRequest(env=str(env.file), tag="smoke", runs_dir=run_dir)), display, stop)


def _smoke_journeys(request: RunRequest, env: Environment, run_dir: Path, stages: Stages, stop: StopToken) -> None:
    if not request.journeys:
        stages.skip("smoke journeys", "browser journeys", "--no-journeys")
        return
    stages.run("smoke journeys", "headless browser journeys (smoke tag)",
               lambda: _journeys_job(env, run_dir, stop, stages.display), "journeys.job")


def _load_with_journeys(request: RunRequest, env: Environment, run_dir: Path, stages: Stages,
                        stop: StopToken) -> None:
    """The load run in this thread; the journeys start in another once the load has ramped up, with their own
    stop token (set when this run stops, or when the load ended before they began)."""
    from slo.durations import parse_duration

    def load() -> Result:
        from locustfiles.job import LoadRequest, execute, plan

        load_request = LoadRequest(env=str(env.file), profile=request.profile, users=request.users,
                                   rate=request.rate, duration=request.duration, runs_dir=run_dir)
        return execute(plan(load_request), stages.display, stop)

    during: dict[str, Any] = {}
    journeys_stop = StopToken()

    def journeys_during_load() -> None:
        if journeys_stop.wait(min(10.0, parse_duration(request.duration) / 4)):
            return
        try:
            stages.run("journeys during the load", "the same journeys while the load runs",
                       lambda: _journeys_job(env, run_dir, journeys_stop, stages.display), "journeys.job")
        except Exception as exc:  # reported as the stage's outcome; the load goes on
            during["error"] = repr(exc)

    worker = None
    if request.journeys:
        worker = threading.Thread(target=journeys_during_load, name="journeys-during-load", daemon=True)
        worker.start()
    else:
        stages.skip("journeys during the load", "browser journeys", "--no-journeys")
    mode = f"{request.rate:g} iterations/s" if request.rate else f"{request.users} users"
    try:
        stages.run("load", f"{request.profile} profile, {mode} for {request.duration}"
                   + (", journeys during it" if worker else ""),
                   load, "locustfiles.job")
    finally:
        if worker is not None:
            if stop.is_set() or not any(s.name == "journeys during the load" for s in stages.stages):
                journeys_stop.request(stop.signum or signal.SIGINT)
            worker.join(_JOURNEYS_JOIN_S)
    if "error" in during:
        stages.display.note("error", f"journeys during the load failed to run: {during['error']}")


def _drill(request: RunRequest, env: Environment, run_dir: Path, stages: Stages, stop: StopToken) -> None:
    if not request.drill:
        stages.skip("drill", "DR drill", "--no-drill")
        return

    def drill() -> Result:
        from chaos.drill import DrillRequest, execute, plan

        drill_request = DrillRequest(env=str(env.file), scenario=request.scenario, runs_dir=run_dir)
        return execute(plan(drill_request), stages.display, stop)

    stages.run("drill", f"{request.scenario}: fault, recovery, RTO/RPO measured", drill, "chaos.drill")


def _evaluate(request: RunRequest, folder: RunFolder, stages: Stages) -> Result:
    from reports.sources import SourceError, for_run
    from slo.job import SloRequest, execute, plan

    began = time.monotonic()
    stage = stages.begin("slo", "evaluating every objective over the journeys, load and drill")
    try:
        sources = for_run(folder.path)
    except SourceError as exc:
        stages.end(stage, f"failed: {exc}", ExitCode.ERROR, began)
        raise RxError(f"no stage produced anything to judge: {exc}") from None
    result = execute(plan(SloRequest(runs=tuple(sources.all_dirs), output=folder.path, strict=request.strict)))
    counts = RunVerdict.of(result, request.strict)
    stages.end(stage, f"ok: {len(counts.met)} shown met, {len(counts.missed)} missed, {len(counts.not_shown)} "
               "not shown", int(result.exit_code), began)
    return result


def _report(request: RunRequest, folder: RunFolder, stages: Stages, sandbox: Any) -> Path:
    from reports.job import ReportRequest, execute, plan

    began = time.monotonic()
    stage = stages.begin("report", "HTML, PDF, summary.md and report.json")
    result = execute(plan(ReportRequest(run=folder.path, pdf=request.pdf, known_secrets=_sandbox_secrets(sandbox))),
                     stages.display)
    stages.end(stage, "ok", ExitCode.OK, began)
    report: Path = result.details["files"]["report.html"]
    return report


def _sandbox_secrets(sandbox: Any) -> list[str]:
    """Values the report must never show, whatever field they hide in: the sandbox's keys and user passwords."""
    if sandbox is None:
        return []
    try:
        keys = [sandbox.anon_key, sandbox.service_key, sandbox.jwt_secret, sandbox.webhook_secret]
        return keys + [row.get("password", "") for row in sandbox.credentials]
    except (OSError, KeyError, RxError):  # no secrets file: nothing known to hide beyond the scrubber's patterns
        return []


@dataclass(frozen=True)
class RunVerdict:
    """The run's verdict is the evaluation's release verdict (slo.evaluate.Evaluation.release_verdict, which the
    report's answer uses too): the headline objectives (overall availability and p95, which the load stage is sized
    to show) decide a pass, whatever else could not be shown (the banner lists it; --strict turns it into exit 3)."""

    verdict: str
    exit_code: ExitCode
    met: list[str]
    missed: list[str]
    not_shown: list[str]
    confidence: float

    @classmethod
    def of(cls, slo: Result, strict: bool) -> RunVerdict:
        from slo.job import evaluation_of

        evaluation = evaluation_of(slo)
        groups: dict[str, list[str]] = {"pass": [], "fail": [], "insufficient-data": []}
        for objective in evaluation.objectives:
            groups.setdefault(objective.verdict, []).append(f"{objective.name} ({objective.objective})")
        verdict = evaluation.release_verdict
        if verdict in ("invalid", "fail"):
            code = ExitCode.INVALID if verdict == "invalid" else ExitCode.FAIL
        else:
            code = ExitCode.NO_VERDICT if strict and groups["insufficient-data"] else ExitCode.OK
        return cls(verdict, code, groups["pass"], groups["fail"], groups["insufficient-data"], evaluation.confidence)

    def banner(self) -> list[str]:
        """In plain words: what the evidence showed met, showed missed, and could not show either way."""
        lines = []
        if self.missed:
            lines.append(f"shown missed: {_grouped(self.missed, name_all=True)}")
        if self.met:
            lines.append(f"shown met at {self.confidence:.0%} confidence: {_grouped(self.met, name_all=False)}")
        if self.not_shown:
            lines.append(f"not shown either way (too little evidence in this run): "
                         f"{_grouped(self.not_shown, name_all=True)}")
        return lines or ["no objective applied to what this run measured"]


def _grouped(objectives: list[str], name_all: bool) -> str:
    """Per-request objectives ("name[request] (objective)") folded into one entry: the request names listed when
    `name_all`, else counted."""
    folded: dict[str, list[str]] = {}
    for entry in objectives:
        head, _, objective = entry.rpartition(" (")
        name, _, request = head.partition("[")
        folded.setdefault(f"{name} ({objective}", []).append(request.removesuffix("]"))
    parts = []
    for key, requests in folded.items():
        named = [r for r in requests if r]
        if not named:
            parts.append(key)
        elif name_all:
            parts.append(f"{key} for {'; '.join(named)}")
        else:
            parts.append(f"{key} for {len(named)} request name{'s' if len(named) > 1 else ''}")
    return ", ".join(parts)


def _print_result(stages: Stages, run_dir: Path, report: Path, verdict: RunVerdict) -> None:
    print("\nstage                      result                                   time")
    for stage in stages.stages:
        seconds = "" if stage.seconds is None else f"{stage.seconds:.0f} s"
        print(f"{stage.name:<26} {stage.status[:40]:<40} {seconds:>6}")
    total = int(time.monotonic() - stages.started)
    print()
    for line in verdict.banner():
        print(line)
    print(f"\nreport    {report}")
    print(f"verdict   {verdict.verdict} (exit code {int(verdict.exit_code)}) in {total // 60} min {total % 60} s")
    print(f"run       {run_dir}")
