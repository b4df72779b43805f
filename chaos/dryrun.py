"""`rxsuite drill --dry-run`: what a planned drill would do, step by step, with each step's resolved URL or
command, touching nothing: no request to the target, no process started, no run folder. The generic drivers are
built (they only hold their settings) to resolve names the way the drill would; a plug-in driver (the sandbox's) is
named, never built. A name the environment file does not resolve (an unknown template or http target, a missing
placeholder, a program not allowed) is reported as the step's problem: the drill would fail there.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from chaos.drill import Plan
from chaos.drivers import BUILTIN_DRIVER
from chaos.drivers.command import CommandDriver
from chaos.drivers.http import HttpDriver
from chaos.drivers.select import build_drivers
from chaos.drivers.toxiproxy import ToxiproxyDriver
from chaos.probes import LEDGER_PATH, READ_PATH
from chaos.scenario import Action, Check, Scenario
from rxcore.errors import RxError

__all__ = ["GENERIC_DRIVERS", "ScenarioPreview", "StepPreview", "preview"]

GENERIC_DRIVERS = frozenset({"toxiproxy", "http", "command"})


@dataclass(frozen=True)
class StepPreview:
    phase: str  # method | rollback
    name: str
    driver: str
    action: str
    args: dict[str, Any]
    timing: str
    resolved: str
    problem: str | None


@dataclass(frozen=True)
class ScenarioPreview:
    name: str
    file: str
    weight: float
    target: str
    checks: tuple[str, ...]
    after_timeout_s: float
    probes: tuple[str, ...]
    load: str | None
    method: tuple[StepPreview, ...]
    rollbacks: tuple[StepPreview, ...]
    safeguards: tuple[str, ...]
    objectives: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        return [f"{s.phase} {s.name}: {s.problem}" for s in (*self.method, *self.rollbacks) if s.problem]


def preview(drill_plan: Plan) -> list[ScenarioPreview]:
    """Every scenario of the plan as it would run against its environment."""
    env = drill_plan.env
    platform = env.platform()
    needed = {d for scenario, _ in drill_plan.scenarios for d in scenario.drivers} & GENERIC_DRIVERS
    drivers = build_drivers(env, needed, platform)
    key_env = env.chaos.get("ledger_service_key_env")
    ledger_key = f"service key from {key_env}" if key_env else (
        "the platform's own service key" if platform is not None else None)
    return [_scenario(scenario, weight, env.base_url, drivers, ledger_key, drill_plan.request.background_load)
            for scenario, weight in drill_plan.scenarios]


def _scenario(scenario: Scenario, weight: float, base_url: str, drivers: dict[str, Any], ledger_key: str | None,
              background_load: bool) -> ScenarioPreview:
    spec = scenario.probes
    probes = [f"every {1 / spec.rate_hz:g} s ({spec.rate_hz:g} Hz), timeout {spec.timeout_s:g} s, recovered after "
              f"{spec.stability_s:g} s of continuous success"]
    if spec.read:
        probes.append(f"read   GET {base_url}{READ_PATH} (anon key)")
    if spec.write:
        probes.append(f"ledger POST {base_url}{LEDGER_PATH} ({ledger_key})" if ledger_key else
                      "ledger off: the environment names no chaos.ledger_service_key_env")
    load = None
    if scenario.load is not None:
        load = (f"{scenario.load.profile}, {scenario.load.users} users, {scenario.load.duration_s:g} s"
                if background_load else "skipped (--no-load)")
    return ScenarioPreview(
        name=scenario.name, file=str(scenario.file), weight=weight, target=base_url,
        checks=tuple(_check(c, base_url) for c in scenario.checks), after_timeout_s=scenario.after_timeout_s,
        probes=tuple(probes), load=load,
        method=tuple(_step(a, "method", drivers) for a in scenario.method),
        rollbacks=tuple(_step(a, "rollback", drivers) for a in scenario.rollbacks),
        safeguards=tuple(_safeguard(s.below, s.window_s, s.max_duration_s) for s in scenario.safeguards),
        objectives=tuple(f"{o.name}: {o.metric} {o.op} {o.target:g}{' (critical)' if o.critical else ''}"
                         for o in scenario.objectives))


def _check(check: Check, base_url: str) -> str:
    params = check.params
    if check.kind == "http":
        expect = f" and JSON {json.dumps(params['json'])}" if params.get("json") else ""
        return f"http GET {base_url}{params.get('path', '/health')} answers {params.get('status', 200)}{expect}"
    if check.kind == "availability":
        return f"availability of the probes over {params.get('window_s', 2):g} s >= {params.get('min', 1.0):g}"
    return "sandbox_healthy: every part of the sandbox healthy (the sandbox driver)"


def _safeguard(below: float | None, window_s: float | None, max_duration_s: float | None) -> str:
    parts = []
    if below is not None and window_s is not None:
        parts.append(f"abort when availability over {window_s:g} s falls below {below:g}")
    if max_duration_s is not None:
        parts.append(f"abort when the method runs past {max_duration_s:g} s")
    return "; ".join(parts)


def _timing(action: Action, phase: str) -> str:
    if phase == "rollback":
        return "in order, on every way out of the method"
    start = f"at {action.at_s:g} s" if action.at_s is not None else (
        f"{action.after_s:g} s after the previous step's hold" if action.after_s else "after the previous step's hold")
    hold = f", holds {action.duration_s:g} s" if action.duration_s else ""
    return start + hold + (", the fault (RTO/RPO from here)" if action.fault else "")


def _step(action: Action, phase: str, drivers: dict[str, Any]) -> StepPreview:
    problem = None
    try:
        resolved = _resolve(action, drivers)
    except RxError as exc:
        resolved, problem = "-", str(exc)
    return StepPreview(phase, action.name, action.driver, action.action, dict(action.args), _timing(action, phase),
                       resolved, problem)


def _resolve(action: Action, drivers: dict[str, Any]) -> str:
    args = action.args
    driver = drivers.get(action.driver)
    if action.driver == BUILTIN_DRIVER:
        return {"wait": f"wait {args.get('seconds')} s", "mark": f"mark the time as {args.get('name')!r}",
                "wait_for_recovery": "wait for the probes to recover"}[action.action]
    if isinstance(driver, ToxiproxyDriver):
        return _toxiproxy(driver, action.action, args)
    if isinstance(driver, HttpDriver):
        body = f" {json.dumps(args['json'])}" if "json" in args else ""
        headers = f" headers from {', '.join(sorted(args['headers_env'].values()))}" if args.get("headers_env") else ""
        return f"{args.get('method', 'POST')} {driver.url_for(args)}{body}{headers}"
    if isinstance(driver, CommandDriver):
        known: dict[str, str] = {"run_id": "<run id>"}
        if action.action == "restore":
            mark = args["mark"]
            known.update(target_time=f"<time of mark {mark}>", target_unix=f"<unix time of mark {mark}>")
        argv = shlex.join(driver.argv_for(args, known))
        return argv + (" (restored copy's ledger_seqs read from its last line)" if action.action == "restore" else "")
    return f"the {action.driver} driver's {action.action} {json.dumps(args)} (on the environment's own platform)"


def _toxiproxy(driver: ToxiproxyDriver, action: str, args: dict[str, Any]) -> str:
    base = driver.base_url.rstrip("/")
    proxy = driver.proxy_for(args["proxy"]) if "proxy" in args else ""
    if action in ("disable_proxy", "enable_proxy"):
        return f"POST {base}/proxies/{proxy} {{\"enabled\": {str(action == 'enable_proxy').lower()}}}"
    if action == "add_toxic":
        name = args.get("name") or f"drill-{args['type']}"
        return (f"POST {base}/proxies/{proxy}/toxics {args['type']} {name!r} {json.dumps(args.get('attributes') or {})}"
                f" ({args.get('stream', 'downstream')})")
    if action == "remove_toxic":
        return f"DELETE {base}/proxies/{proxy}/toxics/{args['name']}"
    return f"POST {base}/reset"
