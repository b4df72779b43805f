"""`rxsuite slo evaluate RUN... [--spec FILE]`: SLO verdicts for run folders;
`rxsuite slo evaluate --env NAME [--window 28d|2026-11|2026-Q4 | --since DATE [--until DATE]]
[--source auto|prometheus|monitor]`: the same verdicts from the environment's Prometheus (objectives with a
`prometheus:` block) or from its synthetic monitor's record, maintenance windows excluded (auto: Prometheus when
the environment has one, else the monitor's record; docs/monitoring.md);
`rxsuite slo rules`: alert rules.

Exit codes: 0 every applicable objective passes, 1 any fails, 2 usage or spec error (also unreadable run
folders), 3 no failure but some objective has insufficient data (CI can choose whether to gate on it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.lifecycle import run_job
from slo.job import SOURCES, SloRequest, evaluation_of, execute, plan


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("slo", help="evaluate SLOs of run folders; alert rules", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="slo_command", required=True, metavar="SUBCOMMAND")
    evaluate = commands.add_parser("evaluate", help="evaluate one run folder or several as one period",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="run folder(s); several = one period")
    evaluate.add_argument("--env", help="evaluate from this environment's Prometheus or monitor record instead of "
                                        "run folders")
    evaluate.add_argument("--source", choices=SOURCES, default="auto",
                          help="with --env: prometheus, monitor (the synthetic monitor's record), or auto (default: "
                               "Prometheus when the environment has one, else the monitor's record)")
    evaluate.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                          help="with --source monitor: where runs/monitor/<env> is (default: runs/)")
    evaluate.add_argument("--window", help="with --env: 28d (rolling), 2026-11 (month), 2026-Q4 (default: the OpenSLO "
                                           "timeWindow of the spec, else 28d)")
    evaluate.add_argument("--since", help="with --env: from this date or time (ISO 8601, UTC unless it says)")
    evaluate.add_argument("--until", help="with --since: to this date or time (default: now)")
    evaluate.add_argument("--spec", type=Path,
                          help="rxsuite-slo/1 spec or OpenSLO file (default: slo/specs/default.yaml)")
    evaluate.add_argument("--format", choices=("auto", "table", "plain", "json"), default="auto",
                          help="auto: table on a terminal, plain tab-separated lines otherwise")
    evaluate.add_argument("--output", type=Path,
                          help="where to write the JSON result (default: RUN/slo.json for one run; none for several)")
    evaluate.add_argument("--no-write", action="store_true", help="do not write slo.json")
    evaluate.set_defaults(func=run_evaluate)
    rules = commands.add_parser("rules", help="Prometheus alert rules from a spec, checked (and tested) by promtool",
                                description=RULES_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    rules.add_argument("--spec", type=Path, help="rxsuite-slo/1 spec or OpenSLO file (default: the default spec)")
    rules.add_argument("--out", type=Path, default=Path(".rxsuite/rules"), help="folder (default: .rxsuite/rules)")
    rules.add_argument("--time-scale", type=float, default=1.0, metavar="N",
                       help="divide every window and `for:` by N (60: 1h becomes 1m), for the sandbox's drills")
    rules.add_argument("--test", action="store_true",
                       help="also write and run promtool test cases (clean, fast burn, slow burn, low traffic)")
    rules.set_defaults(func=run_rules)


def run_evaluate(args: argparse.Namespace) -> int:
    request = SloRequest(runs=tuple(args.runs), spec=args.spec, output=args.output, write=not args.no_write,
                         env=args.env, window=args.window, since=args.since, until=args.until, source=args.source,
                         runs_dir=args.runs_dir)
    return run_job(plan, lambda slo_plan, _display, stop: execute(slo_plan, None, stop), request,
                   "rxsuite slo evaluate", raise_first=True, show=lambda result: _show(result, args.format))


RULES_DOC = """`rxsuite slo rules [--spec FILE] [--out DIR] [--time-scale N] [--test]`: writes DIR/<spec>.rules.yml
(recording rules and multiwindow burn-rate alerts, docs/monitoring.md) and checks it with `promtool check rules`.
Exit codes: 0 written and checked (and the --test cases pass), 1 a --test case failed, 2 spec or promtool error.
"""


def run_rules(args: argparse.Namespace) -> int:
    from rxcore import validation
    from rxcore.errors import RxError
    from rxcore.exitcodes import ExitCode
    from slo.rules import RulesError, check_rules, generate, write_rules
    from slo.rules_cases import run_cases
    from slo.spec import SpecError, load_spec

    try:
        time_scale = validation.option("--time-scale", validation.finite, args.time_scale, 1.0, 3600.0)
        rules = generate(load_spec(args.spec), time_scale=time_scale)
        path = write_rules(rules, args.out)
        check_rules(path)
        print(f"{path}: {sum(len(g['rules']) for g in rules.groups)} rules, promtool check rules passed")
        for ruled in rules.objectives:
            names = ", ".join(dict.fromkeys(ruled.alert_name(a.severity) for a in ruled.alerts))
            print(f"  {ruled.objective.name}: {names}")
        for name, reason in rules.skipped:
            print(f"  {name}: no rules ({reason})")
        if not args.test:
            return ExitCode.OK
        run = run_cases(rules, path, args.out)
    except (SpecError, RulesError, RxError) as exc:
        print(f"rxsuite slo rules: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    checks = sum(n for _, n in run.checks)
    for line in run.timeline:
        print(f"  {line}")
    print(f"{run.test_file}: {len(run.checks)} cases, {checks} alert checks: {'passed' if run.passed else 'FAILED'}")
    if not run.passed:
        print(run.output, file=sys.stderr)
    return ExitCode.OK if run.passed else ExitCode.FAIL


def _show(result: Result, fmt: str) -> None:
    evaluation = evaluation_of(result)
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "plain"
    if fmt == "json":
        json.dump(evaluation.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    from slo.render import render_plain, render_table

    if fmt == "plain":
        render_plain(evaluation, sys.stdout)
        return
    from rich.console import Console

    render_table(evaluation, Console(width=None if sys.stdout.isatty() else 200))
