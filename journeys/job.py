"""The journeys job's lifecycle: `plan` checks the environment, the target and the options (no browser starts
before every refusal is made); `execute` runs the journeys into a run folder and closes run.json."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeys.runner import JourneyOptions, JourneysError, run_journeys
from preflight.job import quick_check
from rxcore.environment import CREDENTIALS_ENV, PROJECT_ROOT, Environment, load_environment, platform_target
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import DEFAULT_RUNS_DIR, Progress, QuietProgress, Result, StopToken, check_allowed
from rxcore.runfolder import RunFolder

__all__ = ["JOB", "JourneysPlan", "JourneysRequest", "execute", "plan"]

JOB = "journeys"


@dataclass(frozen=True)
class JourneysRequest:
    env: str = "sandbox"
    base_url: str | None = None
    tag: str = "smoke"
    headed: bool = False
    retries: int = 1
    select: str | None = None
    break_page: tuple[str, ...] = ()
    runs_dir: Path = DEFAULT_RUNS_DIR
    skip_checks: bool = False


@dataclass(frozen=True)
class JourneysPlan:
    request: JourneysRequest
    env: Environment
    options: JourneyOptions


def plan(request: JourneysRequest) -> JourneysPlan:
    env = load_environment(request.env)
    check_allowed(env, JOB)
    options = JourneyOptions(**_target(env, request.base_url), tag=request.tag, headed=request.headed,
                             retries=request.retries, select=request.select, break_paths=tuple(request.break_page),
                             environment=env.name)
    if env.kind == "production" and request.tag != "smoke":
        raise RxError(f"{env.file}: kind is production: only --tag smoke (read-only) may run there")
    if request.retries < 0:
        raise RxError("--retries must be 0 or more")
    if request.headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RxError("--headed needs a display (DISPLAY is not set); drop --headed to run headless")
    for path in request.break_page:
        if not path.startswith("/"):
            raise RxError(f"--break-page {path!r}: give a page path starting with /, e.g. /dashboard")
    if not request.skip_checks:
        quick_check(env, request.base_url)
    return JourneysPlan(request, env, options)


def execute(journeys_plan: JourneysPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    progress = progress or QuietProgress()
    stop = stop or StopToken()
    request, env, options = journeys_plan.request, journeys_plan.env, journeys_plan.options
    folder = RunFolder.create(request.runs_dir, JOB, env.name,
                              environment={"name": env.name, "kind": env.kind, "base_url": options.base_url},
                              parameters={"tag": request.tag, "headed": request.headed, "retries": request.retries,
                                          "select": request.select, "break_pages": list(request.break_page)},
                              project_root=PROJECT_ROOT)
    progress.note("run folder", str(folder.path))
    try:
        outcome = run_journeys(options, folder.path, stop)
    except JourneysError as exc:
        if stop.is_set():
            folder.finish(stop.status, stop.exit_code, f"{stop.describe()}: {exc}")
            return Result(stop.exit_code, stop.status, folder.path, None, stop.describe())
        folder.finish("failed", ExitCode.ERROR, str(exc))
        return Result(ExitCode.ERROR, "failed", folder.path, None, str(exc))
    except BaseException as exc:
        folder.finish(stop.status if stop.is_set() else "failed",
                      stop.exit_code if stop.is_set() else ExitCode.ERROR, repr(exc))
        raise
    counts = outcome.document["summary"]
    code = ExitCode(outcome.exit_code)
    status = "completed" if code == ExitCode.OK else "failed"
    reason = "every journey passed" if code == ExitCode.OK else f"{counts['failed']} journey(s) failed"
    if stop.is_set():
        status, code, reason = stop.status, stop.exit_code, f"{stop.describe()}: {reason} before the stop"
    folder.finish(status, code, reason, journeys=counts, journeys_file="journeys.json", junit_file="junit.xml")
    verdict = "pass" if outcome.exit_code == 0 else "fail"
    return Result(code, status, folder.path, verdict, reason, {"document": outcome.document})


def _target(env: Environment, base_url: str | None) -> dict[str, Any]:
    """The environment's target, checked further: journeys need an http(s) URL and an existing accounts file."""
    target = platform_target(env, base_url)
    if not target.base_url.startswith(("http://", "https://")):
        raise RxError(f"--base-url {target.base_url!r}: give an http(s) URL")
    if not target.credentials_csv.is_file():
        raise RxError(f"credentials file {target.credentials_csv} does not exist (set {CREDENTIALS_ENV} to a CSV of "
                      "synthetic accounts)")
    return dataclasses.asdict(target)
