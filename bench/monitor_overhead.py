"""The monitor's own overhead between checks: the CPU time its process (every thread: the schedule, /metrics)
uses while it waits for the next round, as a share of one core.

A private sandbox is started; `rxsuite monitor`'s job runs in a child process (API checks, a round every
--every seconds, /metrics served). After each round (seen in status.json) the child's CPU time is read from
/proc/<pid>/task/*/schedstat (nanoseconds), and again 60 % of an interval later, before the next round starts; a
stretch in which the record grew is not idle and is refused. The share is the idle stretches' CPU time over their
wall time. The CPU of whole intervals (checks included) is printed too, for scale.

    .venv/bin/python bench/monitor_overhead.py [--intervals 8] [--every 5] [--port-offset 12800]
Target (issue 20): <= 1 % of a core between checks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos.sandbox_env import write_sandbox_environment  # noqa: E402
from rxcore.processes import port_is_free, wait_until  # noqa: E402
from sandbox.stack import Sandbox  # noqa: E402
from sandbox.variant import sandbox_variant  # noqa: E402

LIMIT = 0.01
_RUNNER = """import json, sys
from pathlib import Path
from monitor.job import MonitorRequest, execute, plan
from rxsuite.lifecycle import run_job
sys.exit(run_job(plan, execute, MonitorRequest(**json.loads(sys.argv[1]), runs_dir=Path(sys.argv[2])), "monitor"))
"""


def cpu_s(pid: int) -> float:
    """CPU time of every thread of the process, in nanoseconds from /proc/<pid>/task/*/schedstat (utime and stime
    of /proc/<pid>/stat count whole clock ticks, 10 ms: too coarse for a few idle seconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intervals", type=int, default=8)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--port-offset", type=int,
                        default=int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000")) + 800)
    args = parser.parse_args()
    sandbox = Sandbox(sandbox_variant(args.port_offset, f"bench-monitor-{args.port_offset}"))
    metrics_port = 18790 + args.port_offset
    if not port_is_free(metrics_port):
        print(f"port {metrics_port} is taken; give another --port-offset")
        return 2
    with tempfile.TemporaryDirectory(prefix="rx-monitor-bench-") as tmp:
        try:
            sandbox.reset()
            sandbox.up()
            env = write_sandbox_environment(sandbox.config, Path(tmp) / "env.yaml", name="bench-monitor")
            request = {"env": str(env), "checks": "api", "every": f"{args.every:g}s", "count": args.intervals + 2,
                       "metrics_port": metrics_port}
            child = subprocess.Popen([sys.executable, "-c", _RUNNER, json.dumps(request), str(Path(tmp) / "runs")],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                idle_cpu, idle_wall, whole = measure(child.pid, Path(tmp) / "runs" / "monitor" / "bench-monitor",
                                                     args.intervals, args.every)
            finally:
                child.terminate()
                child.wait(timeout=60)
        finally:
            sandbox.down()
    share = idle_cpu / idle_wall
    print(f"monitor between checks: {idle_cpu * 1000:.2f} ms CPU in {idle_wall:.1f} s idle over {args.intervals} "
          f"intervals = {share:.3%} of a core (limit {LIMIT:.0%})")
    print(f"whole intervals (checks included): {whole:.3%} of a core at a round every {args.every:g} s")
    print("PASS" if share <= LIMIT else "FAIL")
    return 0 if share <= LIMIT else 1


def measure(pid: int, folder: Path, intervals: int, every_s: float) -> tuple[float, float, float]:
    """(idle CPU s, idle wall s, whole-interval CPU share) over `intervals` rounds after the first."""
    def status() -> dict[str, int]:
        try:
            return dict(json.loads((folder / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def rounds_done(n: int) -> Callable[[], bool]:
        return lambda: status().get("rounds", 0) >= n

    wait_until(rounds_done(1), 120, interval_s=0.01, what="the first round")
    idle_cpu = idle_wall = 0.0
    first_cpu, first_wall = cpu_s(pid), time.monotonic()
    for round_ in range(2, intervals + 2):
        wait_until(rounds_done(round_), 4 * every_s, interval_s=0.01, what=f"round {round_}")
        size, cpu, wall = _written(folder), cpu_s(pid), time.monotonic()
        time.sleep(0.6 * every_s)
        if _written(folder) != size or status()["rounds"] != round_:
            raise SystemExit("a round ran inside the idle stretch: give a longer --every")
        idle_cpu += cpu_s(pid) - cpu
        idle_wall += time.monotonic() - wall
    whole = (cpu_s(pid) - first_cpu) / (time.monotonic() - first_wall)
    return idle_cpu, idle_wall, whole


def _written(folder: Path) -> int:
    """Bytes in the record's folder, status.json aside: any check recorded changes it."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != "status.json")


if __name__ == "__main__":
    sys.exit(main())
