"""`rxsuite journeys`: headless browser journeys through the platform's pages, into a run folder.

Writes journeys.json (verdicts, step durations, page loads with web vitals), junit.xml and, for failed attempts,
artifacts/<journey>/attempt-<n>/ (screenshots, Playwright traces, console errors). A journey that fails and
passes on its retry is reported flaky. Exit codes: 0 every journey passed (flaky ones are listed); 1 a journey
failed; 2 the journeys could not run (bad option, no browser, no sandbox running, missing credentials); 130
interrupted, 143 terminated (the browsers are closed first).

With `--env sandbox` the sandbox must already be running (`rxsuite sandbox up`): like a load run, the journeys
never start or stop it behind your back. They use the last accounts of the credentials file and may run while
a load run is in progress (the user's experience under load). `--tag smoke` (default) is read-only and safe in
production; `--tag full` writes (renewals, payments, decisions) and is refused for a production environment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from journeys.job import JourneysRequest, execute, plan
from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.console import fail
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("journeys", help="headless browser journeys with web vitals (CI smoke)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--base-url", help="the web app's URL (default: the environment's base_url), e.g. a "
                                           "preview deployment")
    parser.add_argument("--tag", default="smoke", choices=("smoke", "full"),
                        help="smoke: read-only journeys (default); full: every journey, including ones that write")
    parser.add_argument("--headed", action="store_true", help="show the browser (needs a display)")
    parser.add_argument("--retries", type=int, default=1,
                        help="retries of a failed journey (default 1); one that then passes is reported flaky")
    parser.add_argument("--select", metavar="EXPR", help="only journeys whose test name matches (pytest -k)")
    parser.add_argument("--break-page", action="append", default=[], metavar="PATH",
                        help="serve this page as a 500 error, to check that your CI keeps the failure artifacts "
                             "(a path or a template: /dashboard, /prescriptions/{id})")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders go")
    parser.add_argument("--skip-checks", action="store_true",
                        help="skip the pre-flight checks (reachability, TLS, anon key, one sign-in)")
    parser.set_defaults(func=run_journeys_command)


def run_journeys_command(args: argparse.Namespace) -> int:
    request = JourneysRequest(env=args.env, base_url=args.base_url, tag=args.tag, headed=args.headed,
                              retries=args.retries, select=args.select, break_page=tuple(args.break_page),
                              runs_dir=args.runs_dir, skip_checks=args.skip_checks)
    return run_job(plan, execute, request, f"rxsuite journeys: {args.tag}", show=_print)


def _print(result: Result) -> None:
    document = result.details.get("document")
    if document is None:
        fail(result.reason)
        return
    run_dir = result.run_dir or Path()
    for journey in document["journeys"]:
        last = journey["attempts"][-1]
        line = f"{journey['outcome']:<8}{journey['journey']}  ({last.get('duration_s') or 0:.1f} s"
        line += f", {len(journey['attempts'])} attempts)" if len(journey["attempts"]) > 1 else ")"
        print(line)
        if journey["outcome"] in ("failed", "flaky"):
            failed = [a for a in journey["attempts"] if a["outcome"] == "failed"][-1]
            error = (failed.get("error") or "failed").splitlines()[0][:200]
            step = f"step {failed['failed_step']!r}: " if failed.get("failed_step") else ""
            print(f"        {step}{error}")
            for path in failed["artifacts"]:
                print(f"        {run_dir / path}")
    counts = document["summary"]
    loads = [p["load_s"] for p in document["page_loads"]]
    slowest = f", slowest page load {max(loads):.2f} s" if loads else ""
    print(f"journeys  {counts['passed']} passed, {counts['flaky']} flaky, {counts['failed']} failed, "
          f"{counts['skipped']} skipped in {document['wall_s']:.1f} s{slowest}")
    print(f"run       {run_dir}")
