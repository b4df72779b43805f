"""`rxsuite report RUN [--baseline RUN]` and `rxsuite report --period 2026-Q4|2026-11|28d | --since DATE [--env NAME]`:
stakeholder reports. With --env, a period's objectives come from the environment's Prometheus first (the run
folders of the period answer the rest: journeys, drills), and every number says which source it came from.

Writes report.html (self-contained, charts inlined), report.pdf (printed by Chromium), summary.md (a pull-request
comment) and report.json into the run folder (a period: into runs/report-<period>/, or --output).

Exit codes: 0 every applicable SLO passes, 1 an SLO fails, 3 no failure but insufficient data (as
`rxsuite slo evaluate`), 2 the report could not be made (no such run, empty period, bad spec or input file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reports.job import ReportRequest, execute, plan
from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="HTML/PDF/Markdown/JSON report of a run, or of a period",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, metavar="RUN", help="run folder (a job's or an `rxsuite run`'s)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--period", help="every run of a quarter (2026-Q4), month (2026-11), year (2026) or the last "
                                        "28d (rolling)")
    which.add_argument("--since", help="every run since a date (YYYY-MM-DD)")
    parser.add_argument("--env", metavar="NAME", help="with --period/--since: the SLIs from this environment's "
                                                      "Prometheus and synthetic monitor record over the period, "
                                                      "then its run folders")
    parser.add_argument("--baseline", type=Path, metavar="RUN", help="compare with this run folder")
    parser.add_argument("--spec", type=Path, help="SLO spec (default: the one the run was judged by, else default)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="runs folder for --period/--since and the drill trend (default: runs/)")
    parser.add_argument("--output", type=Path, help="where to write (default: the run folder, or runs/report-<period>)")
    parser.add_argument("--title", help="the report's title (default: environment, jobs and date)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF (no Chromium needed)")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    request = ReportRequest(run=args.run, period=args.period, since=args.since, baseline=args.baseline,
                            spec=args.spec, runs_dir=args.runs_dir, output=args.output, pdf=not args.no_pdf,
                            title=args.title, env=args.env)
    return run_job(plan, execute, request, "rxsuite report", raise_first=True, show=_print)


def _print(result: Result) -> None:
    for name, path in result.details["files"].items():
        print(f"{name:<12}{path}")
    if result.details["regressions"] is not None:
        print(f"baseline    {result.details['regressions']} regression(s) beyond noise")
    print(f"verdict     {result.verdict} (exit code {result.exit_code})")
