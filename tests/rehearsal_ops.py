"""The operator's tools of the staging rehearsal (tests/test_staging_rehearsal.py): what a real team's CLI or
runbook script does to its platform, here to the sandbox playing the platform. The rehearsal's environment file
names these as command templates; they run outside the job process (`python -I`, so the job's import audit does
not follow them) and may use the sandbox, which the jobs may not.

    region-down                      stop region-a answering at once (SIGSTOP: it holds its connections, so the
                                     edge finds out by its health checks, a failure every run shows alike)
    region-up                        let region-a answer again (SIGCONT); start it when it is not running
    restore-pitr --target-time ISO --run-id ID
                                     restore the base backup + archived WAL to the time into a scratch copy,
                                     print {"ledger_seqs": [...]} of the run, discard the copy
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

import psycopg

from rxcore.environment import load_environment
from sandbox import pitr
from sandbox.stack import Sandbox

REGION = "region-a"


def _sandbox(env_file: str) -> Sandbox:
    config = load_environment(env_file).sandbox
    if config is None:
        raise SystemExit(f"{env_file} is not a sandbox environment")
    return Sandbox(config)


def _restore(sandbox: Sandbox, target: datetime, run_id: str) -> list[int]:
    layout = sandbox.layout()
    pitr.archive_current_wal(layout, sandbox.topology()["primary"])
    restored = pitr.restore_to_time(layout, target, timeout_s=90)
    try:
        with psycopg.connect(restored.conninfo) as conn:
            rows = conn.execute("SELECT seq FROM probe_writes WHERE run_id = %s ORDER BY seq", (run_id,)).fetchall()
    finally:
        pitr.discard(restored)
    return [int(row[0]) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox-env", required=True, help="the sandbox's environment file")
    sub = parser.add_subparsers(dest="op", required=True)
    sub.add_parser("region-down")
    sub.add_parser("region-up")
    restore = sub.add_parser("restore-pitr")
    restore.add_argument("--target-time", required=True, type=datetime.fromisoformat)
    restore.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    sandbox = _sandbox(args.sandbox_env)
    if args.op == "region-down":
        sandbox.faults.freeze_region(REGION)
    elif args.op == "region-up":
        if next(p.running for p in sandbox.status() if p.name == REGION):
            sandbox.faults.thaw_region(REGION)
        else:
            sandbox.faults.start_region(REGION)
    else:
        print(json.dumps({"ledger_seqs": _restore(sandbox, args.target_time, args.run_id)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
