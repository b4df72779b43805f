"""`rxsuite env check --env NAME [--json]`: is the target ready for a run? Reachability and TLS, clock skew against
the server's Date header, the anon key accepted, every credentials row signs in with the role it claims, the tables
and columns the user models use exist, a cross-patient read is denied (row-level security on), rate-limit headroom.

A table on a terminal (plain lines otherwise), JSON with --json. Exit codes: 0 no check failed (warnings listed);
1 a check failed; 2 could not run (no such environment, a key variable unset, no credentials file, the sandbox
not running).
"""

from __future__ import annotations

import argparse
import json
import sys

from preflight.job import PreflightRequest, execute, outcomes_of, plan
from rxcore.jobs import Result
from rxsuite.lifecycle import run_job

_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("env", help="check an environment before a run (pre-flight)", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="env_command", required=True, metavar="SUBCOMMAND")
    check = commands.add_parser("check", help="every pre-flight check against the environment's target",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    check.add_argument("--base-url", help="check this URL instead of the file's base_url (a preview deployment)")
    check.add_argument("--rate", type=float, help="the planned load in requests/s (default: the file's caps.max_rate)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    request = PreflightRequest(env=args.env, base_url=args.base_url, planned_rate=args.rate)
    return run_job(plan, execute, request, f"rxsuite env check: {args.env}", raise_first=True,
                   show=lambda result: _show(result, args.json))


def _show(result: Result, as_json: bool) -> None:
    if as_json:
        json.dump(result.details, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    outcomes = outcomes_of(result)
    if not sys.stdout.isatty():
        for outcome in outcomes:
            print(f"{outcome.name}\t{outcome.status}\t{outcome.detail}")
        print(f"{result.details['environment']}\t{result.verdict}\t{result.reason}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.details['environment']} ({result.details['kind']}) {result.details['base_url']}")
    for column in ("check", "status", "detail"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        table.add_row(outcome.name, f"[{_STYLE[outcome.status]}]{outcome.status}[/]", outcome.detail)
    Console().print(table)
    print(result.reason)
