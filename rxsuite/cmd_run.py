"""`rxsuite run [--env NAME]`: everything at once, the README's first command.

With the sandbox (the default): starts it (or reuses one already running), runs the smoke journeys, a short load
run with the journeys again during it (the user's experience under load), one drill (db-primary-loss), evaluates
the SLOs over all of it, writes the report, and stops the sandbox it started (always, also on failure or Ctrl-C).
Each job is called through its own command (`rxsuite journeys`, `load`, `drill`), so a stage behaves exactly as
that command does; its run folder is a stage folder inside this run's folder.

Exit codes follow `rxsuite load`: 0 no SLO failed (the report says where data was insufficient; --strict makes
that 3), 1 an SLO failed, 2 the run could not start or produced nothing to judge, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore import validation
from rxcore.environment import PROJECT_ROOT, Environment, load_environment
from rxcore.errors import RxError
from rxcore.runfolder import RunFolder
from rxsuite.console import fail

JOB = "run"
EXIT_ERROR, EXIT_INTERRUPTED = 2, 130
SKIPPED_UNAVAILABLE = "skipped: not available"
DEFAULT_SCENARIO = "db-primary-loss"
_JOURNEYS_JOIN_S = 300


@dataclass
class Stage:
    name: str
    status: str = "pending"  # pending, running, ok, failed (exit code), skipped: ...
    exit_code: int | None = None
    seconds: float | None = None
    folder: str | None = None


@dataclass
class _Progress:
    """One line per stage start and end, with the elapsed time: readable in a terminal and in CI logs."""

    total: int
    started: float = field(default_factory=time.monotonic)
    stages: list[Stage] = field(default_factory=list)

    def begin(self, name: str, what: str) -> Stage:
        stage = Stage(name, "running")
        self.stages.append(stage)
        print(f"\n[{len(self.stages)}/{self.total}] {self._clock()} {name}: {what}", flush=True)
        return stage

    def end(self, stage: Stage, status: str, exit_code: int | None, began: float) -> None:
        stage.status, stage.exit_code, stage.seconds = status, exit_code, round(time.monotonic() - began, 1)
        print(f"[{self.stages.index(stage) + 1}/{self.total}] {self._clock()} {stage.name}: {status} "
              f"({stage.seconds:.0f} s)", flush=True)

    def note(self, text: str) -> None:
        print(f"    {self._clock()} {text}", flush=True)

    def _clock(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        return f"{elapsed // 60:02d}:{elapsed % 60:02d}"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="everything at once: sandbox, journeys, load, drill, SLOs, report",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--runs-dir", type=Path, default=PROJECT_ROOT / "runs", help="where run folders go")
    parser.add_argument("--profile", default="baseline", help="load profile (default: baseline)")
    parser.add_argument("--users", type=int, default=20, help="load users (default 20)")
    parser.add_argument("--duration", default="60s", help="load run length (default 60s)")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"drill scenario (default {DEFAULT_SCENARIO})")
    parser.add_argument("--no-drill", action="store_true", help="skip the drill")
    parser.add_argument("--no-journeys", action="store_true", help="skip the browser journeys")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    parser.add_argument("--keep-sandbox", action="store_true", help="leave a sandbox this run started running")
    parser.add_argument("--strict", action="store_true", help="exit 3 when no SLO failed but data was insufficient")
    parser.set_defaults(func=run_all)


def run_all(args: argparse.Namespace) -> int:
    try:
        validation.option("--duration", validation.duration, args.duration)
        validation.option("--users", validation.count, args.users, 1, 1_000_000)
        env = load_environment(args.env)
        if env.allowed_jobs and JOB not in env.allowed_jobs:
            raise RxError(f"{env.file}: allowed_jobs does not list {JOB!r}; add it to run everything there")
        if env.kind == "production":
            raise RxError(f"{env.file}: kind is production: `rxsuite run` (load and a drill) is not for production; "
                          "run the jobs one by one with their own guards")
    except RxError as exc:
        fail(str(exc))
        return EXIT_ERROR
    folder = RunFolder.create(args.runs_dir, JOB, env.name, environment={"name": env.name, "kind": env.kind},
                              parameters={"profile": args.profile, "users": args.users, "duration": args.duration,
                                          "scenario": None if args.no_drill else args.scenario},
                              project_root=PROJECT_ROOT)
    progress = _Progress(total=7)
    print(f"run folder {folder.path}", flush=True)
    sandbox, started_sandbox, code = None, False, EXIT_ERROR
    try:
        sandbox, started_sandbox = _sandbox_up(env, progress)
        _journeys(args, env, folder.path, progress, "smoke journeys")
        _load_with_journeys(args, env, folder.path, progress)
        _drill(args, env, folder.path, progress)
        verdict, code = _evaluate(args, folder, progress)
        report = _report(args, folder, progress, sandbox)
        folder.finish("completed", code, stages=[vars(s) for s in progress.stages], slo_verdict=verdict)
        _print_result(progress, folder.path, report, verdict, code)
        return code
    except KeyboardInterrupt:
        folder.finish("interrupted", EXIT_INTERRUPTED, "interrupted by Ctrl-C",
                      stages=[vars(s) for s in progress.stages])
        raise
    except Exception as exc:
        folder.finish("failed", EXIT_ERROR, repr(exc), stages=[vars(s) for s in progress.stages])
        raise
    finally:
        if started_sandbox and sandbox is not None and not args.keep_sandbox:
            progress.note("stopping the sandbox this run started")
            sandbox.down()


def _sandbox_up(env: Environment, progress: _Progress) -> tuple[Any, bool]:
    began = time.monotonic()
    if env.sandbox is None:
        stage = progress.begin("sandbox", f"not used ({env.name} is a {env.kind} environment)")
        progress.end(stage, "skipped: not a sandbox environment", None, began)
        return None, False
    from sandbox.stack import Sandbox

    stage = progress.begin("sandbox", "starting the embedded platform (PostgreSQL pair, apps, edge, stubs)")
    sandbox = Sandbox(env.sandbox)
    started = sandbox.up(lambda part, state, detail: progress.note(f"{part} {state} {detail}".strip()))
    progress.end(stage, "ok: started" if started else "ok: reused the running sandbox (left running after)", 0,
                 began)
    return sandbox, started


def _command(argv: list[str]) -> tuple[Callable[[argparse.Namespace], int], argparse.Namespace] | None:
    """A job's own command, parsed by the real parser (so defaults live in one place); None if not installed."""
    from rxsuite.cli import build_parser

    if importlib.util.find_spec(f"rxsuite.cmd_{argv[0]}") is None:
        return None
    args = build_parser().parse_args(argv)
    return args.func, args


def _run_stage(progress: _Progress, name: str, what: str, argv: list[str], stage_dir: Path) -> Stage:
    began = time.monotonic()
    stage = progress.begin(name, what)
    command = _command(argv)
    if command is None:
        progress.end(stage, SKIPPED_UNAVAILABLE, None, began)
        return stage
    pattern = f"*-{argv[0]}-*"
    before = {p.name for p in stage_dir.glob(pattern)}
    func, parsed = command
    code = int(func(parsed))
    made = sorted({p.name for p in stage_dir.glob(pattern) if p.is_dir()} - before)
    stage.folder = made[-1] if made else None
    progress.end(stage, "ok" if code == 0 else f"finished with exit code {code}", code, began)
    return stage


def _journeys(args: argparse.Namespace, env: Environment, run_dir: Path, progress: _Progress, name: str) -> Stage:
    argv = ["journeys", "--env", str(env.file), "--tag", "smoke", "--runs-dir", str(run_dir)]
    if args.no_journeys:
        began = time.monotonic()
        stage = progress.begin(name, "browser journeys")
        progress.end(stage, "skipped: --no-journeys", None, began)
        return stage
    return _run_stage(progress, name, "headless browser journeys (smoke tag)", argv, run_dir)


def _load_with_journeys(args: argparse.Namespace, env: Environment, run_dir: Path, progress: _Progress) -> None:
    """The load run in this thread (it owns Ctrl-C); the journeys start in another once the load has ramped up."""
    from slo.durations import parse_duration

    delay = min(10.0, parse_duration(args.duration) / 4)
    during: dict[str, Any] = {}

    def journeys_during_load() -> None:
        time.sleep(delay)
        try:
            during["stage"] = _journeys(args, env, run_dir, progress, "journeys during the load")
        except Exception as exc:  # reported as the stage's outcome; the load goes on
            during["error"] = repr(exc)

    worker = threading.Thread(target=journeys_during_load, name="journeys-during-load", daemon=True)
    worker.start()
    argv = ["load", "--env", str(env.file), "--profile", args.profile, "--users", str(args.users),
            "--duration", args.duration, "--runs-dir", str(run_dir)]
    _run_stage(progress, "load", f"{args.profile} profile, {args.users} users for {args.duration}, journeys during it",
               argv, run_dir)
    worker.join(_JOURNEYS_JOIN_S)
    if "error" in during:
        progress.note(f"journeys during the load failed to run: {during['error']}")


def _drill(args: argparse.Namespace, env: Environment, run_dir: Path, progress: _Progress) -> None:
    if args.no_drill:
        began = time.monotonic()
        stage = progress.begin("drill", "DR drill")
        progress.end(stage, "skipped: --no-drill", None, began)
        return
    argv = ["drill", "--env", str(env.file), "--scenario", args.scenario, "--runs-dir", str(run_dir)]
    _run_stage(progress, "drill", f"{args.scenario}: fault, recovery, RTO/RPO measured", argv, run_dir)


def _evaluate(args: argparse.Namespace, folder: RunFolder, progress: _Progress) -> tuple[str, int]:
    from reports.sources import SourceError, for_run
    from slo.evaluate import evaluate_runs, write_slo_json

    began = time.monotonic()
    stage = progress.begin("slo", "evaluating every objective over the journeys, load and drill")
    try:
        sources = for_run(folder.path)
    except SourceError as exc:
        progress.end(stage, f"failed: {exc}", EXIT_ERROR, began)
        raise RxError(f"no stage produced anything to judge: {exc}") from None
    evaluation = evaluate_runs(sources.all_dirs)
    write_slo_json(evaluation, folder.path)
    code = 1 if evaluation.verdict == "fail" else 3 if evaluation.verdict == "insufficient-data" and args.strict else 0
    progress.end(stage, f"ok: verdict {evaluation.verdict}", evaluation.exit_code, began)
    return evaluation.verdict, code


def _report(args: argparse.Namespace, folder: RunFolder, progress: _Progress, sandbox: Any) -> Path:
    from reports.builder import generate
    from reports.sources import for_run

    began = time.monotonic()
    stage = progress.begin("report", "HTML, PDF, summary.md and report.json")
    result = generate(for_run(folder.path), runs_root=folder.path.parent, pdf=not args.no_pdf,
                      known_secrets=_sandbox_secrets(sandbox))
    for note in result.notes:
        progress.note(note)
    progress.end(stage, "ok", 0, began)
    return result.html


def _sandbox_secrets(sandbox: Any) -> list[str]:
    """Values the report must never show, whatever field they hide in: the sandbox's keys and user passwords."""
    if sandbox is None:
        return []
    try:
        keys = [sandbox.anon_key, sandbox.service_key, sandbox.jwt_secret, sandbox.webhook_secret]
        return keys + [row.get("password", "") for row in sandbox.credentials]
    except (OSError, KeyError, RxError):  # no secrets file: nothing known to hide beyond the scrubber's patterns
        return []


def _print_result(progress: _Progress, run_dir: Path, report: Path, verdict: str, code: int) -> None:
    print("\nstage                      result                                   time")
    for stage in progress.stages:
        seconds = "" if stage.seconds is None else f"{stage.seconds:.0f} s"
        print(f"{stage.name:<26} {stage.status[:40]:<40} {seconds:>6}")
    total = int(time.monotonic() - progress.started)
    print(f"\nreport    {report}")
    print(f"verdict   {verdict} (exit code {code}) in {total // 60} min {total % 60} s")
    print(f"run       {run_dir}")
