"""One drill or a suite of drills against an environment: every check that can refuse happens first (environment,
production guard, scenario files, drivers), then the sandbox is started or reused, then each scenario runs in its
own folder of the run folder. The programmatic entry point behind `rxsuite drill`."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.drivers.select import allowed_drivers
from chaos.journal import DRILL_FILE, Journal, iso
from chaos.probes import Target
from chaos.runner import DrillRunner, Progress
from chaos.scenario import Scenario, load_scenario
from chaos.suite import load_suite, summarise
from chaos.trend import earlier_drills, trend
from rxcore.environment import Environment, load_environment
from rxcore.errors import ConfigError, RxError
from rxcore.runfolder import RunFolder
from sandbox.stack import Sandbox

EXIT_AS_EXPECTED, EXIT_NOT_AS_EXPECTED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True)
class DrillRequest:
    env: str
    scenario: str | None = None
    suite: str | None = None
    runs_dir: Path = Path("runs")
    confirm_production: str | None = None
    keep_sandbox: bool = False
    background_load: bool = True


@dataclass(frozen=True)
class Plan:
    env: Environment
    scenarios: tuple[tuple[Scenario, float], ...]
    suite: str | None


def plan(request: DrillRequest) -> Plan:
    """Everything that can refuse the drill, before anything touches the target."""
    env = load_environment(request.env)
    if env.allowed_jobs and "drill" not in env.allowed_jobs:
        raise ConfigError(str(env.file), "allowed_jobs", "drills are not allowed in this environment",
                          "add drill to allowed_jobs if the environment's owner agrees")
    if env.kind == "production":
        if env.chaos.get("allow_production") is not True:
            raise ConfigError(str(env.file), "chaos.allow_production", "chaos is refused in production unless the "
                              "environment file allows it", "set chaos.allow_production: true (owner's decision)")
        if request.confirm_production != env.name:
            raise RxError(f"{env.file}: production drill refused without explicit confirmation "
                          f"(add --confirm-production {env.name})")
    if (request.scenario is None) == (request.suite is None):
        raise RxError("name exactly one of --scenario and --suite")
    if request.suite is not None:
        suite = load_suite(request.suite)
        scenarios, suite_name = suite.scenarios, suite.name
    else:
        scenarios, suite_name = ((load_scenario(request.scenario or ""), 1.0),), None
    allowed = allowed_drivers(env)
    for scenario, _ in scenarios:
        missing = sorted(scenario.drivers - allowed)
        if missing:
            raise ConfigError(str(env.file), "chaos.drivers", f"scenario {scenario.name} needs driver(s) "
                              f"{', '.join(missing)}, not allowed here ({', '.join(sorted(allowed)) or 'none'})",
                              "add them to chaos.drivers in the environment file, or pick another scenario")
    return Plan(env, scenarios, suite_name)


def execute(request: DrillRequest, stop: threading.Event, progress: Progress) -> tuple[int, dict[str, Any], Path]:
    drill_plan = plan(request)
    env = drill_plan.env
    sandbox, started_sandbox = _acquire_sandbox(env, progress)
    try:
        target = _target(env, sandbox)
        folder = RunFolder.create(request.runs_dir, "drill", env.name, environment=env.raw, parameters={
            "scenario": request.scenario, "suite": request.suite, "keep_sandbox": request.keep_sandbox})
        sandbox_note = None if sandbox is None else {
            "mode": "started by the drill" if started_sandbox else "reused (already running)",
            "state_dir": str(sandbox.state_dir), "replication": sandbox.config.replication}
        folder.update(sandbox=sandbox_note)
        if drill_plan.suite is None:
            scenario = drill_plan.scenarios[0][0]
            result = DrillRunner(scenario, env, folder.path, target, sandbox, stop, progress,
                                 request.background_load).run()
            history = earlier_drills(request.runs_dir, env.name, scenario.name, exclude=folder.path)
            extra = {"trend": trend(history, result.get("score")), "sandbox": sandbox_note}
            Journal(folder.path / DRILL_FILE, {**result, **extra})
            result.update(extra)
            code = _exit_code(result.get("status"), bool(result.get("as_expected")))
        else:
            result = _run_suite(drill_plan, folder, target, sandbox, stop, progress, sandbox_note, request)
            code = _exit_code(result["status"], result["as_expected"])
        folder.finish(result.get("status", "completed"), code, reason=result.get("reason") or "",
                      verdict=result.get("verdict"), score=result.get("score"))
        return code, result, folder.path
    finally:
        if started_sandbox and sandbox is not None and not request.keep_sandbox:
            progress("sandbox", "stopping the sandbox this drill started")
            sandbox.down()


def _run_suite(drill_plan: Plan, folder: RunFolder, target: Target, sandbox: Sandbox | None, stop: threading.Event,
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
        result = DrillRunner(scenario, drill_plan.env, sub, target, sandbox, stop, progress,
                             request.background_load).run()
        results.append((result, weight))
        journal.append("scenarios", {
            "scenario": scenario.name, "weight": weight, "status": result.get("status"),
            "verdict": result.get("verdict"), "score": result.get("score"), "expect": scenario.expect,
            "as_expected": result.get("as_expected"), "designed_to_show": scenario.designed_to_show or None,
            "rto_s": result.get("rto_s"), "rpo_count": result.get("rpo_count"), "rpo_s": result.get("rpo_s"),
            "time_to_detect_s": result.get("time_to_detect_s"), "downtime_s": result.get("downtime_s"),
            "ledger": result.get("ledger"), "reason": result.get("reason"),
            "duration_s": _duration(result), "journal": str(Path("scenarios") / scenario.name / DRILL_FILE)})
    summary = summarise(results) if results else {"score": 0.0, "verdict": "fail", "as_expected": False}
    interrupted = len(results) < len(drill_plan.scenarios) or any(r.get("status") == "interrupted"
                                                                  for r, _ in results)
    summary["as_expected"] = summary["as_expected"] and not interrupted
    if interrupted:
        summary["verdict"] = None  # an interrupted suite judged only part of itself: never a pass
    history = earlier_drills(request.runs_dir, drill_plan.env.name, f"suite:{drill_plan.suite}", exclude=folder.path)
    journal.update(**summary, status="interrupted" if interrupted else "completed", ended_at=iso(time.time()),
                   duration_s=round(time.time() - started, 1), trend=trend(history, summary["score"]))
    return journal.data


def _duration(result: dict[str, Any]) -> float | None:
    timeline = result.get("timeline") or []
    return round(timeline[-1]["unix"] - timeline[0]["unix"], 1) if len(timeline) > 1 else None


def _exit_code(status: str | None, as_expected: bool) -> int:
    if status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_AS_EXPECTED if as_expected else EXIT_NOT_AS_EXPECTED


def _acquire_sandbox(env: Environment, progress: Progress) -> tuple[Sandbox | None, bool]:
    """The environment's sandbox: reused when already up, otherwise started here (and stopped after)."""
    if env.sandbox is None:
        return None, False
    sandbox = Sandbox(env.sandbox)
    started = sandbox.up(lambda part, state, detail: progress("sandbox", f"{part} {state} {detail}".strip()))
    progress("sandbox", "started for this drill (stopped after)" if started else
             f"reusing the running sandbox in {sandbox.state_dir}")
    return sandbox, started


def _target(env: Environment, sandbox: Sandbox | None) -> Target:
    if sandbox is not None:
        return Target(sandbox.edge_url, sandbox.anon_key, sandbox.service_key)
    anon = os.environ.get(env.anon_key_env or "", "")
    if not anon:
        raise ConfigError(str(env.file), "anon_key_env", f"variable {env.anon_key_env!r} is not set",
                          "export the anon key in that variable")
    service_env = env.chaos.get("ledger_service_key_env")
    return Target(env.base_url, anon, os.environ.get(service_env) if service_env else None)
