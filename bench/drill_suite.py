"""The quarterly DR drill suite end to end on a fresh sandbox it starts and stops itself: wall time against the
10-minute budget (ratio < 1 is within budget, alert checks included), and each scenario's measured RTO and RPO,
and, for the scenarios that declare alerts, time to alert, time to notify and unexpected alerts.

    .venv/bin/python bench/drill_suite.py [--no-load] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.jobs import QuietProgress, StopToken
from sandbox.variant import sandbox_variant

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "6000")) + 900
_BUDGET_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-load", action="store_true", help="skip the scenarios' background load")
    parser.add_argument("--runs-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="drill-bench-")))
    args = parser.parse_args()
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    config = sandbox_variant(_OFFSET, "bench-drill")
    env_file = write_sandbox_environment(config, args.runs_dir / "env.yaml", "sandbox-bench")
    started = time.monotonic()
    done = execute(plan(DrillRequest(env=str(env_file), suite="quarterly", runs_dir=args.runs_dir,
                                     background_load=not args.no_load)), QuietProgress(), StopToken())
    code, result, folder = int(done.exit_code), done.details["drill"], done.run_dir
    assert folder is not None  # a drill that has a result has its run folder
    wall = time.monotonic() - started
    print(f"{'scenario':34} {'verdict':8} {'score':>6} {'RTO s':>7} {'RPO writes':>10} {'RPO s':>6} "
          f"{'alert s':>8} {'notify s':>8} {'unexpected':>10}")
    for row in result["scenarios"]:
        alerting = row.get("alerting") or {}
        unexpected = len(alerting.get("unexpected") or []) if alerting.get("checked") else None
        print(f"{row['scenario']:34} {row.get('verdict')!s:8} {_num(row.get('score')):>6} "
              f"{_num(row.get('rto_s')):>7} {_num(row.get('rpo_count')):>10} {_num(row.get('rpo_s')):>6} "
              f"{_num(row.get('time_to_alert_s')):>8} {_num(row.get('time_to_notify_s')):>8} {_num(unexpected):>10}")
        for finding in alerting.get("findings") or []:
            print(f"{'':34} alerting: {finding}")
    print(f"suite {result['verdict']} score {result['score']} exit {code}; journal {folder / 'drill.json'}")
    print(f"wall time {wall:.1f} s (sandbox start and stop included) / budget {_BUDGET_S:.0f} s = "
          f"ratio {wall / _BUDGET_S:.2f}")


def _num(value: object) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
