"""The quarterly DR drill suite end to end on a fresh sandbox it starts and stops itself: wall time against the
10-minute budget (ratio < 1 is within budget), and each scenario's measured RTO and RPO.

    .venv/bin/python bench/drill_suite.py [--no-load] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from chaos.drill import DrillRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.jobs import QuietProgress, StopToken
from sandbox.variant import sandbox_variant

_OFFSET = 6900
_BUDGET_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-load", action="store_true", help="skip the scenarios' background load")
    parser.add_argument("--runs-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="drill-bench-")))
    args = parser.parse_args()
    config = sandbox_variant(_OFFSET, "bench-drill")
    env_file = write_sandbox_environment(config, args.runs_dir / "env.yaml", "sandbox-bench")
    started = time.monotonic()
    done = execute(plan(DrillRequest(env=str(env_file), suite="quarterly", runs_dir=args.runs_dir,
                                     background_load=not args.no_load)), QuietProgress(), StopToken())
    code, result, folder = int(done.exit_code), done.details["drill"], done.run_dir
    assert folder is not None  # a drill that has a result has its run folder
    wall = time.monotonic() - started
    print(f"{'scenario':34} {'verdict':8} {'score':>6} {'RTO s':>7} {'RPO writes':>10} {'RPO s':>6}")
    for row in result["scenarios"]:
        print(f"{row['scenario']:34} {row.get('verdict')!s:8} {_num(row.get('score')):>6} "
              f"{_num(row.get('rto_s')):>7} {_num(row.get('rpo_count')):>10} {_num(row.get('rpo_s')):>6}")
    print(f"suite {result['verdict']} score {result['score']} exit {code}; journal {folder / 'drill.json'}")
    print(f"wall time {wall:.1f} s (sandbox start and stop included) / budget {_BUDGET_S:.0f} s = "
          f"ratio {wall / _BUDGET_S:.2f}")


def _num(value: object) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
