"""`rxsuite slo evaluate RUN... [--spec FILE]`: SLO verdicts for run folders.

Exit codes: 0 every applicable objective passes, 1 any fails, 2 usage or spec error (also unreadable run
folders), 3 no failure but some objective has insufficient data (CI can choose whether to gate on it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("slo", help="evaluate SLOs of run folders", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="slo_command", required=True, metavar="SUBCOMMAND")
    evaluate = commands.add_parser("evaluate", help="evaluate one run folder or several as one period",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folder(s); several = one period")
    evaluate.add_argument("--spec", type=Path,
                          help="rxsuite-slo/1 spec or OpenSLO file (default: slo/specs/default.yaml)")
    evaluate.add_argument("--format", choices=("auto", "table", "plain", "json"), default="auto",
                          help="auto: table on a terminal, plain tab-separated lines otherwise")
    evaluate.add_argument("--output", type=Path,
                          help="where to write the JSON result (default: RUN/slo.json for one run; none for several)")
    evaluate.add_argument("--no-write", action="store_true", help="do not write slo.json")
    evaluate.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from slo.evaluate import EvaluationError, evaluate_runs, write_slo_json
    from slo.records import RecordError
    from slo.spec import SpecError, load_spec

    try:
        spec = load_spec(args.spec)
        evaluation = evaluate_runs(args.runs, spec)
    except (SpecError, EvaluationError, RecordError) as exc:
        print(f"rxsuite slo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.no_write:
        target = args.output or (args.runs[0] if len(args.runs) == 1 else None)
        if target is not None:
            write_slo_json(evaluation, target)
    _show(evaluation, args.format)
    return evaluation.exit_code


def _show(evaluation: Any, fmt: str) -> None:
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
