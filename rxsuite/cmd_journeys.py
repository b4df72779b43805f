"""`rxsuite journeys`: headless browser journeys through the platform's pages, into a run folder.

Writes journeys.json (verdicts, step durations, page loads with web vitals), junit.xml and, for failed attempts,
artifacts/<journey>/attempt-<n>/ (screenshots, Playwright traces, console errors). A journey that fails and
passes on its retry is reported flaky. Exit codes: 0 every journey passed (flaky ones are listed); 1 a journey
failed; 2 the journeys could not run (bad option, no browser, no sandbox running, missing credentials).

With `--env sandbox` the sandbox must already be running (`rxsuite sandbox up`): like a load run, the journeys
never start or stop it behind your back. They use the last accounts of the credentials file and may run while
a load run is in progress (the user's experience under load). `--tag smoke` (default) is read-only and safe in
production; `--tag full` writes (renewals, payments, decisions) and is refused for a production environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from journeys.runner import JourneyOptions, JourneysError, JourneysOutcome, run_journeys
from locustfiles.config import CREDENTIALS_ENV
from rxcore.environment import PROJECT_ROOT, Environment, load_environment, platform_target
from rxcore.errors import ConfigError, RxError
from rxcore.runfolder import RunFolder
from rxsuite.console import fail

JOB = "journeys"


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
    parser.add_argument("--runs-dir", type=Path, default=PROJECT_ROOT / "runs", help="where run folders go")
    parser.set_defaults(func=run_journeys_command)


def run_journeys_command(args: argparse.Namespace) -> int:
    try:
        env = load_environment(args.env)
        options = JourneyOptions(**_target(env, args.base_url), tag=args.tag, headed=args.headed,
                                 retries=args.retries, select=args.select, break_paths=tuple(args.break_page),
                                 environment=env.name)
        _check(env, args)
    except RxError as exc:
        fail(str(exc))
        return 2
    folder = RunFolder.create(args.runs_dir, JOB, env.name,
                              environment={"name": env.name, "kind": env.kind, "base_url": options.base_url},
                              parameters={"tag": args.tag, "headed": args.headed, "retries": args.retries,
                                          "select": args.select, "break_pages": args.break_page},
                              project_root=PROJECT_ROOT)
    print(f"run folder {folder.path}", flush=True)
    try:
        outcome = run_journeys(options, folder.path)
    except JourneysError as exc:
        folder.finish("failed", 2, str(exc))
        fail(str(exc))
        return 2
    except BaseException as exc:
        folder.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", 2, repr(exc))
        raise
    counts = outcome.document["summary"]
    folder.finish("completed" if outcome.exit_code == 0 else "failed", outcome.exit_code,
                  "every journey passed" if outcome.exit_code == 0 else f"{counts['failed']} journey(s) failed",
                  journeys=counts, journeys_file="journeys.json", junit_file="junit.xml")
    _print(outcome, folder.path)
    return outcome.exit_code


def _check(env: Environment, args: argparse.Namespace) -> None:
    if env.allowed_jobs and JOB not in env.allowed_jobs:
        raise ConfigError(str(env.file), "allowed_jobs", f"{JOB!r} is not allowed in this environment",
                          f"add {JOB} to allowed_jobs if journeys are meant to run there")
    if env.kind == "production" and args.tag != "smoke":
        raise RxError(f"{env.file}: kind is production: only --tag smoke (read-only) may run there")
    if args.retries < 0:
        raise RxError("--retries must be 0 or more")
    if args.headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RxError("--headed needs a display (DISPLAY is not set); drop --headed to run headless")
    for path in args.break_page:
        if not path.startswith("/"):
            raise RxError(f"--break-page {path!r}: give a page path starting with /, e.g. /dashboard")


def _target(env: Environment, base_url: str | None) -> dict[str, object]:
    """The environment's target, checked further: journeys need an http(s) URL and an existing accounts file."""
    target = platform_target(env, base_url)
    if not target.base_url.startswith(("http://", "https://")):
        raise RxError(f"--base-url {target.base_url!r}: give an http(s) URL")
    if not target.credentials_csv.is_file():
        raise RxError(f"credentials file {target.credentials_csv} does not exist (set {CREDENTIALS_ENV} to a CSV of "
                      "synthetic accounts)")
    return dataclasses.asdict(target)


def _print(outcome: JourneysOutcome, run_dir: Path) -> None:
    document = outcome.document
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
