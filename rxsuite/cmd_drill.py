"""`rxsuite drill --env NAME --scenario NAME | --suite NAME`: a measured DR drill (RTO, RPO, verdict, score).

Exit code: 0 when every scenario ended as its file expects (pass, or fail as designed), 1 otherwise, 2 when the
drill was refused (bad scenario, environment, production guard), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM, SIGHUP); the rollbacks ran in both cases and the journal records no verdict.

`--dry-run` prints what the drill would do (chaos.dryrun) and touches nothing: exit 0, 1 when a step names
something the environment file does not resolve, 2 refused as above.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chaos.drill import DrillRequest, execute, plan
from chaos.dryrun import ScenarioPreview, StepPreview, preview
from chaos.scenario import known_scenarios
from chaos.suite import known_suites
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.console import fail
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("drill", help="run a DR drill: measured RTO/RPO, verdict and score")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", help=f"one of {', '.join(known_scenarios())}, or a .yaml path")
    which.add_argument("--suite", help=f"one of {', '.join(known_suites())}, or a .yaml path")
    parser.add_argument("--env", default="sandbox", help="environment file name or path (default: sandbox)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders go (default: runs/)")
    parser.add_argument("--confirm-production", metavar="ENV",
                        help="required (with the environment's name) to drill a production environment")
    parser.add_argument("--no-load", action="store_true",
                        help="skip the scenarios' background load (probes only; quicker, less realistic)")
    parser.add_argument("--keep-sandbox", action="store_true",
                        help="leave a sandbox this drill started running afterwards")
    parser.add_argument("--skip-checks", action="store_true",
                        help="skip the pre-flight checks (reachability, TLS, anon key, one sign-in; see rxsuite "
                             "env check); a sandbox the drill starts itself is not checked")
    parser.add_argument("--dry-run", action="store_true",
                        help="print every check, step (with its resolved URL or command), probe, safeguard and "
                             "rollback the drill would run, and touch nothing")
    parser.set_defaults(func=_drill)


def _drill(args: argparse.Namespace) -> int:
    """Signals only set the stop token: the method ends at its next wait, the rollbacks always run."""
    request = DrillRequest(env=args.env, scenario=args.scenario, suite=args.suite, runs_dir=args.runs_dir,
                           confirm_production=args.confirm_production, keep_sandbox=args.keep_sandbox,
                           background_load=not args.no_load, skip_checks=args.skip_checks, dry_run=args.dry_run)
    if args.dry_run:
        return _dry_run(request)
    return run_job(plan, execute, request, f"rxsuite drill {args.scenario or args.suite}", show=_print_result)


def _dry_run(request: DrillRequest) -> int:
    try:
        previews = preview(plan(request))
    except RxError as exc:
        fail(str(exc))
        return ExitCode.ERROR
    print(f"dry run: nothing below is done (environment {request.env})")
    for scenario in previews:
        _print_preview(scenario)
    problems = [p for scenario in previews for p in scenario.problems]
    for problem in problems:
        fail(problem)
    return ExitCode.FAIL if problems else ExitCode.OK


def _print_preview(scenario: ScenarioPreview) -> None:
    print(f"\nscenario {scenario.name} (weight {scenario.weight:g}, {scenario.file})")
    print(f"  target   {scenario.target}")
    for check in scenario.checks:
        print(f"  steady   {check}")
    print(f"  steady   after the rollbacks: the same checks, for up to {scenario.after_timeout_s:g} s")
    for line in scenario.probes:
        print(f"  probes   {line}")
    if scenario.load:
        print(f"  load     {scenario.load}")
    for step in (*scenario.method, *scenario.rollbacks):
        _print_step(step)
    for guard in scenario.safeguards:
        print(f"  guard    {guard}")
    for objective in scenario.objectives:
        print(f"  judge    {objective}")


def _print_step(step: StepPreview) -> None:
    print(f"  {step.phase:8} {step.name}: {step.driver}.{step.action} {step.args or ''}".rstrip())
    print(f"  {'':8}   {step.timing}")
    print(f"  {'':8}   -> {step.resolved}" if step.problem is None else f"  {'':8}   PROBLEM: {step.problem}")


def _print_result(job_result: Result) -> None:
    result: dict[str, Any] = job_result.details["drill"]
    folder = job_result.run_dir or Path()
    rows = result.get("scenarios") if result.get("kind") == "suite" else [result]
    for row in rows or []:
        name = row.get("scenario")
        verdict = row.get("verdict") or row.get("status")  # a stopped drill has no verdict: never PASS
        expected = " (as designed)" if row.get("expect") == "fail" and row.get("as_expected") else ""
        print(f"{name:32} {str(verdict).upper():5}{expected:15} score {_fmt(row.get('score'))}  "
              f"RTO {_fmt(row.get('rto_s'), 's')}  RPO {_fmt(row.get('rpo_count'))} writes / "
              f"{_fmt(row.get('rpo_s'), 's')}  status {row.get('status')}")
        if row.get("reason"):
            print(f"{'':32} reason: {row['reason']}")
        _print_alerting(row)
    if result.get("kind") == "suite":
        shown = result.get("verdict") or result.get("status")
        print(f"suite {result.get('suite')}: {str(shown).upper()} score {_fmt(result.get('score'))} "
              f"in {_fmt(result.get('duration_s'), 's')}")
    delta = (result.get("trend") or {}).get("score_delta")
    if delta is not None:
        print(f"trend: score {delta:+.1f} against the previous drill")
    print(f"journal   {folder / 'drill.json'}")


def _print_alerting(row: dict[str, Any]) -> None:
    """The alert checks' figures and findings under the drill's line, when the scenario declares alerts."""
    alerting = row.get("alerting")
    if not alerting:
        return
    if alerting.get("checked"):
        print(f"{'':32} alerting: time to alert {_fmt(row.get('time_to_alert_s'), 's')}  time to notify "
              f"{_fmt(row.get('time_to_notify_s'), 's')}  time to resolve {_fmt(row.get('time_to_resolve_s'), 's')}"
              f"  unexpected {len(alerting.get('unexpected') or [])}")
    for finding in alerting.get("findings") or []:
        print(f"{'':32} alerting: {finding}")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.2f}{unit}" if isinstance(value, float) else f"{value}{unit}"
