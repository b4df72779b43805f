"""`rxsuite report RUN [--baseline RUN]` and `rxsuite report --period 2026-Q4 | --since DATE`: stakeholder reports.

Writes report.html (self-contained, charts inlined), report.pdf (printed by Chromium), summary.md (a pull-request
comment) and report.json into the run folder (a period: into runs/report-<period>/, or --output).

Exit codes: 0 every applicable SLO passes, 1 an SLO fails, 3 no failure but insufficient data (as
`rxsuite slo evaluate`), 2 the report could not be made (no such run, empty period, bad spec or input file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rxcore.environment import PROJECT_ROOT
from rxsuite.console import fail

EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="HTML/PDF/Markdown/JSON report of a run, or of a period",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", type=Path, metavar="RUN", help="run folder (a job's or an `rxsuite run`'s)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--period", help="every run of a quarter (2026-Q4), month (2026-11) or year (2026)")
    which.add_argument("--since", help="every run since a date (YYYY-MM-DD)")
    parser.add_argument("--baseline", type=Path, metavar="RUN", help="compare with this run folder")
    parser.add_argument("--spec", type=Path, help="SLO spec (default: the one the run was judged by, else default)")
    parser.add_argument("--runs-dir", type=Path, default=PROJECT_ROOT / "runs",
                        help="runs folder for --period/--since and the drill trend (default: runs/)")
    parser.add_argument("--output", type=Path, help="where to write (default: the run folder, or runs/report-<period>)")
    parser.add_argument("--title", help="the report's title (default: environment, jobs and date)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF (no Chromium needed)")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from reports.builder import generate
    from reports.sources import SourceError, for_period, for_run, parse_period
    from slo.artifacts import ArtifactError
    from slo.evaluate import EvaluationError
    from slo.records import RecordError
    from slo.spec import SpecError

    if (args.run is None) == (args.period is None and args.since is None):
        fail("name a run folder, or --period/--since (not both): e.g. `rxsuite report runs/<folder>` or "
             "`rxsuite report --period 2026-Q4`")
        return EXIT_ERROR
    try:
        if args.run is not None:
            sources = for_run(args.run)
            if args.output is not None:
                sources.output_dir = args.output
            runs_root = args.run.resolve().parent
        else:
            start, end, label = parse_period(args.period, args.since)
            output = args.output or args.runs_dir / f"report-{label.replace(' ', '-')}"
            sources = for_period(args.runs_dir, start, end, label, output)
            runs_root = args.runs_dir
        baseline = for_run(args.baseline) if args.baseline is not None else None
        result = generate(sources, args.spec, baseline=baseline, runs_root=runs_root, pdf=not args.no_pdf,
                          title=args.title)
    except (SourceError, SpecError, EvaluationError, ArtifactError, RecordError) as exc:
        fail(str(exc))
        return EXIT_ERROR
    for note in result.notes:
        print(f"note      {note}")
    for name, path in result.files.items():
        print(f"{name:<12}{path}")
    if result.regressions is not None:
        print(f"baseline    {result.regressions} regression(s) beyond noise")
    print(f"verdict     {result.verdict} (exit code {result.exit_code})")
    return result.exit_code
