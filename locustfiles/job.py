"""The load job's lifecycle: `plan` checks the environment, caps, production opt-in and the credentials pool
before anything starts; `execute` runs Locust (its own processes: gevent patches the standard library), judges
the record by the SLO spec and closes run.json. `rxsuite load`, `rxsuite run` and the drill's background load
call these two functions.
"""

from __future__ import annotations

import ast
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locustfiles.config import LoadConfig, SloTarget, parse_user_models
from locustfiles.launcher import Launch, LoadRun, Outcome
from locustfiles.profiles import PROFILES
from preflight.job import quick_check
from rxcore import validation
from rxcore.credentials import CredentialsError, read_credentials
from rxcore.environment import PROJECT_ROOT, Environment, load_environment, platform_target
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode, slo_exit_code
from rxcore.jobs import (
    DEFAULT_RUNS_DIR,
    Progress,
    QuietProgress,
    Result,
    StopToken,
    check_allowed,
    refuse_production,
)
from rxcore.runfolder import RunFolder
from slo.records import too_many_test_errors

__all__ = ["JOB", "LoadPlan", "LoadRequest", "execute", "plan"]

JOB = "load"
_POLL_S = 0.5


@dataclass(frozen=True)
class LoadRequest:
    """Everything `rxsuite load` takes; the defaults are the command's."""

    env: str = "sandbox"
    profile: str = "smoke"
    duration: str | None = None
    users: int | None = None
    rate: float | None = None
    workers: int = 0
    tags: str | None = None
    raw: bool = False
    steps: int = 5
    abort_after: str = "30s"
    request_timeout: str = "30s"
    spec: Path | None = None
    runs_dir: Path = DEFAULT_RUNS_DIR
    allow_production: bool = False
    master: bool = False
    expect_workers: int = 1
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    strict: bool = False
    skip_checks: bool = False


@dataclass(frozen=True)
class LoadPlan:
    request: LoadRequest
    env: Environment
    config: LoadConfig
    launch: Launch


def plan(request: LoadRequest) -> LoadPlan:
    """Every check and refusal, before a folder is made or a process started."""
    if request.master and request.worker:
        raise RxError("--master and --worker: choose one (a process is either the master or a worker)")
    if request.profile not in PROFILES:
        raise RxError(f"--profile {request.profile!r}: use one of {', '.join(sorted(PROFILES))}")
    _option_values(request)  # every typed option refused before the environment or the target is touched
    env = load_environment(request.env)
    check_allowed(env, JOB)
    refuse_production(env, "load", request.allow_production, "--allow-production (the file's caps still apply)")
    values = _option_values(request)
    rate = values.pop("rate")
    defaults = PROFILES[request.profile]
    duration = values.pop("duration_s") or defaults.duration_s
    mode = "arrival" if rate is not None else "closed"
    users = request.users if request.users is not None else (
        defaults.users if mode == "closed" else max(10, math.ceil((rate or 0) * 0.5)))
    _check_caps(env, users, rate, request.workers)
    validation.option("--users", validation.count, users, 1, 1_000_000)
    try:
        models = parse_user_models(env.raw.get("users"), str(env.file))
    except ValueError as exc:
        raise RxError(str(exc)) from None
    target = platform_target(env)
    processes = request.workers if request.workers else (request.expect_workers if request.master else 1)
    config = LoadConfig(base_url=target.base_url, profile=request.profile, mode=mode, users=users, rate=rate,
                        duration_s=duration, processes=max(1, processes), user_models=models, raw=request.raw,
                        step_count=request.steps, **values)
    if request.profile == "capacity":
        config.slo = _capacity_slo(request.spec)
    _check_pool(target.credentials_csv, config)
    role = "master" if request.master else "worker" if request.worker else "all"
    launch = Launch(config, target, workers=0 if role != "all" else request.workers, role=role,
                    master_host=request.master_host, master_port=request.master_port if role != "all" else None,
                    expect_workers=request.expect_workers)
    if not (request.skip_checks or request.worker):
        quick_check(env)
    return LoadPlan(request, env, config, launch)


def _option_values(request: LoadRequest) -> dict[str, Any]:
    """Every typed option checked by rxcore.validation: finite, in range, tags that exist."""
    validation.option("--steps", validation.count, request.steps, 1, 1000)
    if request.users is not None:
        validation.option("--users", validation.count, request.users, 1, 1_000_000)
    return {
        "rate": validation.option("--rate", validation.rate, request.rate) if request.rate is not None else None,
        "duration_s": validation.option("--duration", validation.duration, request.duration)
        if request.duration else None,
        "tags": validation.option("--tags", validation.tags, request.tags, _known_tags()) if request.tags else [],
        "request_timeout_s": validation.option("--request-timeout", validation.duration, request.request_timeout,
                                               0.0, 3600.0),
        "abort_after_s": validation.option("--abort-after", validation.parse_duration, request.abort_after),
    }


def _known_tags() -> set[str]:
    """The tags the load tasks carry, read from locustfiles/users.py's @tag decorators without importing Locust
    (whose gevent patches must not reach this process)."""
    source = (Path(__file__).parent / "users.py").read_text(encoding="utf-8")
    return {arg.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "tag"
            for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}


def execute(load_plan: LoadPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    """Run Locust to the profile's end or until `stop` is set (then it stops gracefully: users finish their
    request, the record is closed); a second signal kills the Locust processes by pid."""
    progress = progress or QuietProgress()
    stop = stop or StopToken()
    request, launch = load_plan.request, load_plan.launch
    job = JOB if launch.role != "worker" else "load-worker"
    folder = RunFolder.create(request.runs_dir, job, load_plan.env.name, environment=_environment_record(load_plan.env),
                              parameters={**load_plan.config.to_json(), "workers": request.workers,
                                          "role": launch.role},
                              project_root=PROJECT_ROOT)
    progress.note("run folder", str(folder.path))
    try:
        outcome = _drive(LoadRun(launch, folder), folder, progress, stop)
    except BaseException as exc:
        status = stop.status if stop.is_set() else "failed"
        code = stop.exit_code if stop.is_set() else ExitCode.ERROR
        folder.finish(status, code, f"the launcher failed: {exc!r}")
        raise
    return _conclude(load_plan, folder, outcome, stop, progress)


def _drive(load: LoadRun, folder: RunFolder, progress: Progress, stop: StopToken) -> Outcome:
    load.start()
    stop.on_force(lambda: _kill(folder))
    asked = False
    while load.running():
        _live(folder.path, progress)
        if stop.is_set() and not asked:
            asked = True
            load.stop(stop.status, f"{stop.describe()}: stopping Locust; the record keeps what was measured")
        if asked:
            time.sleep(_POLL_S)
        else:
            stop.wait(_POLL_S)
    outcome = load.wait()
    _live(folder.path, progress)
    return outcome


def _kill(folder: RunFolder) -> None:
    """The forced stop: every Locust process of this run, by the pid run.json recorded."""
    for pid in (folder.data.get("processes") or {}).values():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def _conclude(load_plan: LoadPlan, folder: RunFolder, outcome: Outcome, stop: StopToken,
              progress: Progress) -> Result:
    status, exit_code, reason = outcome.status, ExitCode(outcome.exit_code), outcome.reason
    if stop.is_set():
        status, exit_code, reason = stop.status, stop.exit_code, stop.describe()
    slo_verdict = None
    if outcome.summary is not None and load_plan.launch.role != "worker":
        slo_verdict, slo_code = _evaluate_slos(folder.path, load_plan.request, progress)
        if exit_code == ExitCode.OK:
            exit_code = slo_code
        test_errors = too_many_test_errors((outcome.summary.get("overall") or {}).get("outcomes") or {})
        if test_errors and exit_code in (ExitCode.OK, ExitCode.FAIL):
            progress.note("error", test_errors)
            exit_code, slo_verdict, reason = ExitCode.ERROR, "no-verdict", test_errors
    folder.finish(status, exit_code, reason, mode=load_plan.config.mode,
                  load_summary="load.json" if outcome.summary else None, slo_verdict=slo_verdict)
    return Result(exit_code, status, folder.path, slo_verdict, reason, {"summary": outcome.summary})


def _evaluate_slos(run_dir: Path, request: LoadRequest, progress: Progress) -> tuple[str, ExitCode]:
    """The SLO verdict of the run's record (slo.json); a broken spec is reported, not fatal to the run."""
    from slo.evaluate import EvaluationError, evaluate_run, write_slo_json
    from slo.spec import SpecError

    try:
        evaluation = evaluate_run(run_dir, request.spec)
    except (EvaluationError, SpecError) as exc:
        progress.note("error", f"SLO evaluation: {exc}")
        return "error", ExitCode.ERROR
    write_slo_json(evaluation, run_dir)
    return evaluation.verdict, slo_exit_code(evaluation.verdict, request.strict)


def _live(run_dir: Path, progress: Progress) -> None:
    try:
        figures = json.loads((run_dir / "live.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    progress.live(figures)


def _capacity_slo(spec_path: Path | None) -> SloTarget:
    """What each capacity step must hold: the spec's overall p95 and availability objectives."""
    from slo.spec import SpecError, load_spec

    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        raise RxError(str(exc)) from None
    target = SloTarget(count_429_as_bad=spec.rate_limited == "bad")
    for objective in spec.objectives:
        overall = objective.requests is None and not objective.per_request
        if objective.kind == "availability" and overall:
            target.max_bad_ratio = 1.0 - objective.target
        elif objective.kind == "latency" and overall and objective.percentile == 95 and objective.threshold:
            target.p95_ms = objective.threshold * 1000.0
    return target


def _check_caps(env: Environment, users: int, rate: float | None, workers: int) -> None:
    caps = env.caps
    max_users, max_rate = caps.get("max_users"), caps.get("max_rate")
    if max_users is not None and users > int(max_users):
        raise ConfigError(str(env.file), "caps.max_users", f"--users {users} is above the cap {max_users}",
                          "lower --users, or raise the cap in the environment file if that is intended")
    if max_rate is not None and rate is not None and rate > float(max_rate):
        raise ConfigError(str(env.file), "caps.max_rate", f"--rate {rate:g} is above the cap {max_rate}",
                          "lower --rate, or raise the cap in the environment file if that is intended")
    if workers < 0:
        raise RxError("--workers must be 0 or more")




def _check_pool(csv_path: Path, config: LoadConfig) -> None:
    """Refuse a run that needs more concurrent logins of a role than the credentials file holds."""
    models = config.user_models
    needs_login = {"patient": "patient", "realtime": "patient", "doctor": "doctor", "pharmacist": "pharmacist"}
    if not any(models[m]["weight"] for m in needs_login):
        return
    try:
        credentials = read_credentials(csv_path)
    except CredentialsError as exc:
        raise RxError(f"credentials: {exc}") from None
    total_weight = sum(m["weight"] for m in models.values())
    for role in ("patient", "doctor", "pharmacist"):
        share = sum(models[m]["weight"] for m, r in needs_login.items() if r == role) / total_weight
        need = math.ceil(config.users * share)
        have = sum(1 for c in credentials if c.role == role)
        per_process_short = math.ceil(need / config.processes) > have // config.processes
        if share and (need > have or per_process_short):
            raise RxError(f"{csv_path}: {need} concurrent {role} logins needed for {config.users} users but the file "
                          f"has {have}; lower --users or the {role} weight, or add {role} accounts")


def _environment_record(env: Environment) -> dict[str, Any]:
    return {"name": env.name, "kind": env.kind, "file": str(env.file), "base_url": env.base_url,
            "caps": env.caps, "users": env.raw.get("users")}
