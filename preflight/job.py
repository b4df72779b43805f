"""The pre-flight job's lifecycle: `plan` resolves the target (URL, anon key, credentials file) and refuses when it
cannot (exit 2, nothing sent); `execute` runs every check and passes (0) only when none fails (1).

`quick_check` is what load, journeys and drill plans run first (reachability, TLS, the anon key, one sign-in): a
few requests, so a wrong key or a down target is one clear line before any run folder or process exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from preflight.checks import CHECKS, QUICK_CHECKS, CheckedTarget, CheckOutcome, Preflight
from rxcore import validation
from rxcore.credentials import CredentialsError, read_credentials
from rxcore.environment import Environment, load_environment, platform_target
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Progress, Result, StopToken

__all__ = ["PreflightPlan", "PreflightRequest", "execute", "outcomes_of", "plan", "quick_check"]

_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PreflightRequest:
    env: str = "sandbox"
    base_url: str | None = None
    planned_rate: float | None = None  # default: the file's caps.max_rate


@dataclass(frozen=True)
class PreflightPlan:
    request: PreflightRequest
    env: Environment
    target: CheckedTarget


def plan(request: PreflightRequest) -> PreflightPlan:
    rate = validation.option("--rate", validation.rate, request.planned_rate) if request.planned_rate is not None \
        else None
    env = load_environment(request.env)
    return PreflightPlan(request, env, _target(env, request.base_url, rate))


def _target(env: Environment, base_url: str | None, planned_rate: float | None) -> CheckedTarget:
    where = platform_target(env, base_url)
    try:
        credentials = tuple(read_credentials(where.credentials_csv))
    except CredentialsError as exc:
        raise RxError(str(exc)) from None
    checks = env.raw.get("checks") or {}
    probe = (env.raw.get("users") or {}).get("probe") or {}
    return CheckedTarget(base_url=where.base_url, anon_key=where.anon_key, credentials=credentials, kind=env.kind,
                  max_clock_skew_s=float(checks.get("max_clock_skew_s", 5.0)),
                  rate_probe_requests=int(checks.get("rate_probe_requests", 20)),
                  planned_rate=planned_rate if planned_rate is not None else env.caps.get("max_rate"),
                  probe_path=probe.get("path"))


def execute(preflight_plan: PreflightPlan, progress: Progress | None = None, stop: StopToken | None = None) -> Result:
    """Every check in order (a few seconds; the caller shows the outcomes, so `--json` prints JSON only)."""
    with httpx.Client(base_url=preflight_plan.target.base_url, timeout=_TIMEOUT_S) as client:
        outcomes = Preflight(preflight_plan.target, client).run(CHECKS)
    failed = [o.name for o in outcomes if o.status == "fail"]
    details: dict[str, Any] = {"environment": preflight_plan.env.name, "kind": preflight_plan.env.kind,
                               "base_url": preflight_plan.target.base_url,
                               "checks": [o.to_dict() for o in outcomes], "passed": not failed}
    if failed:
        return Result(ExitCode.FAIL, "failed", None, "fail", f"failed: {', '.join(failed)}", details)
    return Result(ExitCode.OK, "completed", None, "pass", "every check passed", details)


def outcomes_of(result: Result) -> list[CheckOutcome]:
    return [CheckOutcome(c["name"], c["status"], c["detail"], c["seconds"]) for c in result.details.get("checks", [])]


def quick_check(env: Environment, base_url: str | None = None) -> list[CheckOutcome]:
    """The cheap checks a job's plan runs first; RxError naming every failed one (and how to skip them)."""
    target = _target(env, base_url, None)
    with httpx.Client(base_url=target.base_url, timeout=_TIMEOUT_S) as client:
        outcomes = Preflight(target, client).run(QUICK_CHECKS, quick=True)
    failed = [o for o in outcomes if o.status == "fail"]
    if failed:
        raise RxError(f"{env.file}: pre-flight check failed: " + "; ".join(f"{o.name}: {o.detail}" for o in failed)
                      + f" (rxsuite env check --env {env.name} runs every check; --skip-checks skips them)")
    return outcomes
