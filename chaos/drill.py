"""One drill or a suite of drills against an environment: every check that can refuse happens first (environment,
production guard, scenario files, drivers), then the sandbox is started or reused, then each scenario runs in its
own folder of the run folder. `plan` and `execute` are the drill job's lifecycle, behind `rxsuite drill` and
`rxsuite run`. An interrupted drill records no verdict: its status says how it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.alerts import alert_source
from chaos.drivers.select import allowed_drivers
from chaos.journal import DRILL_FILE, Journal, iso
from chaos.probes import ProbeTarget
from chaos.runner import DrillRunner, Progress
from chaos.scenario import Scenario, load_scenario
from chaos.suite import load_suite, summarise
from chaos.trend import earlier_drills, trend
from preflight.job import quick_check
from rxcore import envvars
from rxcore.environment import Environment, load_environment
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import DEFAULT_RUNS_DIR, Result, StopToken, check_allowed, refuse_production
from rxcore.jobs import Progress as JobProgress
from rxcore.plugins import Platform
from rxcore.runfolder import RunFolder

JOB = "drill"


@dataclass(frozen=True)
class DrillRequest:
    env: str
    scenario: str | None = None
    suite: str | None = None
    runs_dir: Path = DEFAULT_RUNS_DIR
    confirm_production: str | None = None
    keep_sandbox: bool = False
    background_load: bool = True
    skip_checks: bool = False
    dry_run: bool = False  # plan only (chaos.dryrun): nothing may touch the target, not even the pre-flight check


@dataclass(frozen=True)
class Plan:
    request: DrillRequest
    env: Environment
    scenarios: tuple[tuple[Scenario, float], ...]
    suite: str | None


def plan(request: DrillRequest) -> Plan:
    """Everything that can refuse the drill, before anything touches the target."""
    env = load_environment(request.env)
    check_allowed(env, JOB)
    if env.kind == "production":
        if env.chaos.get("allow_production") is not True:
            raise ConfigError(str(env.file), "chaos.allow_production", "chaos is refused in production unless the "
                              "environment file allows it", "set chaos.allow_production: true (owner's decision)")
        refuse_production(env, "a drill", request.confirm_production == env.name,
                          f"explicit confirmation: add --confirm-production {env.name}")
    if (request.scenario is None) == (request.suite is None):
        raise RxError("name exactly one of --scenario and --suite")
    if request.suite is not None:
        suite = load_suite(request.suite)
        scenarios, suite_name = suite.scenarios, suite.name
    else:
        scenarios, suite_name = ((load_scenario(request.scenario or ""), 1.0),), None
    if any(scenario.alerts is not None for scenario, _ in scenarios):
        alert_source(env, None)  # the alert checks' credentials variables, refused before anything is touched
    allowed = allowed_drivers(env)
    for scenario, _ in scenarios:
        missing = sorted(scenario.drivers - allowed)
        if missing:
            raise ConfigError(str(env.file), "chaos.drivers", f"scenario {scenario.name} needs driver(s) "
                              f"{', '.join(missing)}, not allowed here ({', '.join(sorted(allowed)) or 'none'})",
                              "add them to chaos.drivers in the environment file, or pick another scenario")
    platform = env.platform()
    checks = not (request.skip_checks or request.dry_run)
    if checks and (platform is None or platform.running()):  # one the drill starts: not yet
        quick_check(env)
    return Plan(request, env, scenarios, suite_name)


def execute(drill_plan: Plan, job_progress: JobProgress, stop: StopToken) -> Result:
    """Run the planned drill; `stop` ends the method early and the rollbacks still run."""
    request, env, progress = drill_plan.request, drill_plan.env, job_progress.note
    platform, started_platform = _acquire_platform(env, progress)
    try:
        target = _target(env, platform)
        folder = RunFolder.create(request.runs_dir, "drill", env.name, environment=env.raw, parameters={
            "scenario": request.scenario, "suite": request.suite, "keep_sandbox": request.keep_sandbox})
        sandbox_note = None if platform is None else {
            "mode": "started by the drill" if started_platform else "reused (already running)",
            **platform.describe()}
        folder.update(sandbox=sandbox_note)
        if drill_plan.suite is None:
            scenario = drill_plan.scenarios[0][0]
            result = DrillRunner(scenario, env, folder.path, target, platform, stop, progress,
                                 request.background_load).run()
            history = earlier_drills(request.runs_dir, env.name, scenario.name, exclude=folder.path)
            extra = {"trend": trend(history, result.get("score")), "sandbox": sandbox_note, **_stopped(stop)}
            Journal(folder.path / DRILL_FILE, {**result, **extra})
            result.update(extra)
        else:
            result = _run_suite(drill_plan, folder, target, platform, stop, progress, sandbox_note, request)
        code = _exit_code(stop, bool(result.get("as_expected")))
        folder.finish(result.get("status", "completed"), code, reason=result.get("reason") or "",
                      verdict=result.get("verdict"), score=result.get("score"))
        return Result(code, result.get("status", "completed"), folder.path, result.get("verdict"),
                      result.get("reason") or "", {"drill": result})
    finally:
        if started_platform and platform is not None and not request.keep_sandbox:
            progress("sandbox", "stopping the sandbox this drill started")
            platform.down()


def _run_suite(drill_plan: Plan, folder: RunFolder, target: ProbeTarget, platform: Platform | None, stop: StopToken,
               progress: Progress, sandbox_note: dict[str, Any] | None, request: DrillRequest) -> dict[str, Any]:
    started = time.time()
    journal = Journal(folder.path / DRILL_FILE, {
        "kind": "suite", "suite": drill_plan.suite, "environment": drill_plan.env.name, "status": "running",
        "started_at": iso(started), "sandbox": sandbox_note, "scenarios": []})
    results: list[tuple[dict[str, Any], float]] = []
    for scenario, weight in drill_plan.scenarios:
        if stop.is_set():
            journal.append("scenarios", {"scenario": scenario.name, "status": "not run", "weight": weight})
            continue
        progress("scenario", f"{scenario.name} ({len(results) + 1}/{len(drill_plan.scenarios)})")
        sub = folder.path / "scenarios" / scenario.name
        sub.mkdir(parents=True, exist_ok=True)
        result = DrillRunner(scenario, drill_plan.env, sub, target, platform, stop, progress,
                             request.background_load).run()
        results.append((result, weight))
        journal.append("scenarios", {
            "scenario": scenario.name, "weight": weight, "status": result.get("status"),
            "verdict": result.get("verdict"), "score": result.get("score"), "expect": scenario.expect,
            "as_expected": result.get("as_expected"), "designed_to_show": scenario.designed_to_show or None,
            "rto_s": result.get("rto_s"), "rpo_count": result.get("rpo_count"), "rpo_s": result.get("rpo_s"),
            "time_to_detect_s": result.get("time_to_detect_s"), "downtime_s": result.get("downtime_s"),
            "ledger": result.get("ledger"), "reason": result.get("reason"),
            "time_to_alert_s": result.get("time_to_alert_s"), "time_to_notify_s": result.get("time_to_notify_s"),
            "time_to_resolve_s": result.get("time_to_resolve_s"), "alerting": _alerting_summary(result),
            "duration_s": _duration(result), "journal": str(Path("scenarios") / scenario.name / DRILL_FILE)})
    summary: dict[str, Any] = summarise(results) if results else {"score": 0.0, "verdict": "fail", "as_expected": False}
    interrupted = len(results) < len(drill_plan.scenarios) or any(r.get("status") == "interrupted"
                                                                  for r, _ in results)
    summary["as_expected"] = summary["as_expected"] and not interrupted
    if interrupted:
        summary["verdict"] = None  # an interrupted suite judged only part of itself: never a pass
    history = earlier_drills(request.runs_dir, drill_plan.env.name, f"suite:{drill_plan.suite}", exclude=folder.path)
    journal.update(**summary, status="interrupted" if interrupted else "completed", ended_at=iso(time.time()),
                   duration_s=round(time.time() - started, 1), trend=trend(history, summary["score"]),
                   **_stopped(stop))
    return journal.data


def _alerting_summary(result: dict[str, Any]) -> dict[str, Any] | None:
    """A scenario's alert checks as the suite journal lists them (the whole section is in its own drill.json)."""
    alerting = result.get("alerting")
    if not alerting:
        return None
    return {"checked": alerting.get("checked"), "unexpected": alerting.get("unexpected") or [],
            "findings": alerting.get("findings") or []}


def _stopped(stop: StopToken) -> dict[str, Any]:
    """A stopped drill shows nothing: no verdict (never PASS), and its status says how it ended."""
    if not stop.is_set():
        return {}
    return {"status": stop.status, "verdict": None, "as_expected": False, "reason": stop.describe()}


def _duration(result: dict[str, Any]) -> float | None:
    timeline = result.get("timeline") or []
    return round(timeline[-1]["unix"] - timeline[0]["unix"], 1) if len(timeline) > 1 else None


def _exit_code(stop: StopToken, as_expected: bool) -> ExitCode:
    if stop.is_set():
        return stop.exit_code
    return ExitCode.OK if as_expected else ExitCode.FAIL


def _acquire_platform(env: Environment, progress: Progress) -> tuple[Platform | None, bool]:
    """The environment's own platform (the sandbox): reused when already up, otherwise started here (and stopped
    after)."""
    platform = env.platform()
    if platform is None:
        return None, False
    started = platform.up(lambda part, state, detail: progress("sandbox", f"{part} {state} {detail}".strip()))
    where = platform.describe().get("state_dir", env.name)
    progress("sandbox", "started for this drill (stopped after)" if started else
             f"reusing the running sandbox in {where}")
    return platform, started


def _target(env: Environment, platform: Platform | None) -> ProbeTarget:
    if platform is not None:
        endpoint = platform.endpoint()
        return ProbeTarget(endpoint.base_url, endpoint.anon_key, endpoint.service_key)
    anon = envvars.getenv(env.anon_key_env or "", "") or ""
    if not anon:
        raise ConfigError(str(env.file), "anon_key_env", f"variable {env.anon_key_env!r} is not set",
                          "export the anon key in that variable")
    service_env = env.chaos.get("ledger_service_key_env")
    return ProbeTarget(env.base_url, anon, envvars.getenv(service_env) if service_env else None)
