"""`rxsuite load`: a Locust load run against an environment, recorded into a run folder and judged by the SLOs.

Exit codes: 0 the run completed and no SLO failed (slo.json says where data was insufficient; --strict makes
that 3); 1 an SLO failed; 2 the run could not start or Locust failed; 3 aborted mid-run (target unreachable, a
worker died); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM, SIGHUP). With `--env sandbox` the sandbox must
already be running (`rxsuite sandbox up`): a load run never starts or stops it behind your back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from locustfiles.job import LoadRequest, execute, plan
from locustfiles.profiles import PROFILES
from rxcore.jobs import DEFAULT_RUNS_DIR, Result
from rxsuite.lifecycle import run_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("load", help="run load against an environment (Locust), record and judge it",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="sandbox", help="environment name or file (default: sandbox)")
    parser.add_argument("--profile", default="smoke", choices=sorted(PROFILES),
                        help="load shape (default: smoke): " + "; ".join(f"{k}: {v.description}"
                                                                         for k, v in PROFILES.items()))
    parser.add_argument("--duration", help="run length, e.g. 20s, 10m (default: the profile's)")
    parser.add_argument("--users", type=int, help="peak users (closed loop) or the user pool (arrival rate)")
    parser.add_argument("--rate",
                        help="arrival-rate mode: peak task iterations per second; latency counts from the "
                             "intended start, so a stall is not hidden")
    parser.add_argument("--workers", type=int, default=0, help="start a master and N local worker processes")
    parser.add_argument("--tags", help="only tasks with these tags, comma-separated (read, write, payment, ...)")
    parser.add_argument("--raw", action="store_true", help="also keep every sample in raw/*.csv.gz (forensics)")
    parser.add_argument("--steps", type=int, default=5, help="step and capacity profiles: number of steps")
    parser.add_argument("--abort-after", default="30s",
                        help="stop when nothing succeeded for this long (target gone); 0s disables (default 30s)")
    parser.add_argument("--request-timeout", default="30s", help="per-request timeout (default 30s)")
    parser.add_argument("--spec", type=Path, help="SLO spec for the verdict (default: slo/specs/default.yaml)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders go")
    parser.add_argument("--allow-production", action="store_true",
                        help="required for an environment of kind production (caps still apply)")
    parser.add_argument("--skip-checks", action="store_true",
                        help="skip the pre-flight checks (reachability, TLS, anon key, one sign-in)")
    parser.add_argument("--strict", action="store_true", help="exit 3 when no SLO failed but data was insufficient")
    dist = parser.add_argument_group("distributed runs on machines of your own")
    dist.add_argument("--master", action="store_true", help="run only the master; wait for --expect-workers")
    dist.add_argument("--expect-workers", type=int, default=1, help="workers the master waits for (default 1)")
    dist.add_argument("--worker", action="store_true", help="run only a worker that joins --master-host")
    dist.add_argument("--master-host", default="127.0.0.1", help="the master's address (with --worker)")
    dist.add_argument("--master-port", type=int, default=5557, help="the master's port (default 5557)")
    parser.set_defaults(func=run_load)


def run_load(args: argparse.Namespace) -> int:
    request = LoadRequest(**{name: getattr(args, name) for name in LoadRequest.__dataclass_fields__})
    return run_job(plan, execute, request, f"rxsuite load: {args.profile}", show=_print_result)


def _print_result(result: Result) -> None:
    print(f"status    {result.status} ({result.reason})")
    summary = result.details.get("summary") or {}
    overall = summary.get("overall")
    if overall:
        bad = sum(v for k, v in overall["outcomes"].items() if k != "ok")
        print(f"requests  {overall['requests']}  not ok {bad}  p50 {overall['p50_ms']} ms  p95 {overall['p95_ms']} ms"
              f"  p99 {overall['p99_ms']} ms  ({summary.get('mode')} mode)")
    capacity = summary.get("capacity")
    if capacity:
        print(f"capacity  highest sustainable {capacity['highest_sustainable_rps']} req/s "
              f"(broke at level {capacity['broke_at_level']}: {capacity['broke_because']})")
    if result.verdict:
        print(f"slo       {result.verdict} (see {result.run_dir / 'slo.json' if result.run_dir else 'slo.json'})")
    print(f"run       {result.run_dir}")
