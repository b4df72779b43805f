"""`rxsuite monitor --env NAME [--every 5m] [--checks smoke|api|all] [--until TIME | --count N]`: synthetic checks
on a schedule against a live environment, into its long-lived record (runs/monitor/<env>/).

API checks (sign-in, the patient's list, a renewal round trip, its Realtime notification) as a synthetic patient,
and the smoke journeys; a check is called down after `monitor.down_after` failures of its last `down_of`; results
in a maintenance window of the environment file are marked; failures keep evidence; `/metrics` on 127.0.0.1 with
--metrics-port (or monitor.metrics_port). Without --until or --count it stops after 24 h. Restarted, it records
the time it was away as a gap and says so.

Exit codes: 0 it ran to its bound and nothing was down at the end; 1 a check was down at the end; 2 refused (the
environment does not allow monitor, not a synthetic account, over the rate cap, bad option); 130 interrupted
(SIGINT), 143 terminated (SIGTERM, SIGHUP): the check in progress finishes or is abandoned, the record is closed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from monitor.job import MonitorRequest, execute, plan
from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("monitor", help="synthetic checks on a schedule (API probes, smoke journeys)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--every", metavar="DURATION",
                        help="time between rounds, e.g. 30s, 5m (default: the file's monitor.every_s, 300 s)")
    parser.add_argument("--checks", choices=("smoke", "api", "all"),
                        help="which checks (default: the file's monitor.checks, all)")
    parser.add_argument("--until", metavar="TIME",
                        help="stop at this time (2026-12-06T18:00, UTC unless it has an offset) or after this long "
                             "(8h)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N rounds")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve /metrics on 127.0.0.1:PORT while running (default: monitor.metrics_port)")
    parser.add_argument("--select", metavar="EXPR",
                        help="only the smoke journeys whose test name matches (pytest -k), e.g. signs_in")
    parser.add_argument("--break-page", action="append", default=[], metavar="PATH",
                        help="serve this page as a 500 error to the journeys, to see a failure's evidence kept")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="where the record goes: RUNS_DIR/monitor/<env>/ (default: runs/)")
    parser.set_defaults(func=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    request = MonitorRequest(env=args.env, every=args.every, checks=args.checks, until=args.until, count=args.count,
                             metrics_port=args.metrics_port, runs_dir=args.runs_dir,
                             break_page=tuple(args.break_page), select=args.select)
    return run_job(plan, execute, request, f"rxsuite monitor --env {args.env}", show=_print)


def _print(result: Result) -> None:
    details = result.details
    print(f"monitor   {details['rounds']} round(s): {details['ok']} checks ok, {details['failed']} failed"
          f" ({details['in_maintenance']} in maintenance)")
    for change in details["changes"]:
        length = f", down for {change['at'] - change['since']:.1f} s" if change["state"] == "up" else ""
        print(f"          {change['check']} {change['state']} at {_utc(change['at'])} (failing since "
              f"{_utc(change['since'])}{length})")
    print(f"down      {', '.join(details['down']) or 'none'}")
    print(f"status    {result.status}: {result.reason}")
    print(f"record    {result.run_dir}")


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

