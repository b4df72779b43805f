"""Distributed scale: throughput of a master with 1 vs 2 local workers, and the recorder's traffic per worker.

Both runs go through rxsuite's launcher (`rxsuite load --workers N` does the same) with ProbeUser at full speed
against the trivial local endpoint (bench/_endpoint.py). Throughput is the merged record's requests over
the run; recorder traffic is the size of the window payloads each worker shipped to the master, per second.
On a 2-core machine the endpoint and the master share the cores with the workers, so expect well under 2x.
Rounds alternate 1 and 2 workers so a busy neighbour hits both; the ratio is the median over rounds.

    .venv/bin/python bench/distributed_scale.py [--duration 15] [--users 40] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _endpoint import trivial_endpoint  # noqa: E402

from locustfiles.config import LoadConfig, only_models  # noqa: E402
from locustfiles.launcher import Launch, run  # noqa: E402
from rxcore.environment import PlatformTarget  # noqa: E402
from rxcore.runfolder import RunFolder  # noqa: E402


def _measure(url: str, workers: int, users: int, duration: int, work: Path) -> tuple[float, list[float]]:
    models = only_models(probe={"weight": 1})
    config = LoadConfig(base_url=url, profile="baseline", users=users, duration_s=duration, processes=workers,
                        user_models=models, abort_after_s=0)
    work.mkdir(parents=True, exist_ok=True)
    (work / "creds.csv").write_text("email,password,role\n")
    folder = RunFolder.create(work / f"w{workers}", "load", "bench")
    outcome = run(Launch(config, PlatformTarget(url, "bench", work / "creds.csv"), workers=workers), folder)
    assert outcome.summary is not None, outcome.reason
    summary = outcome.summary
    span = summary["ended_at"] - summary["started_at"]
    rps = summary["overall"]["requests"] / duration
    per_worker = [size / span for size in summary["recorder_bytes"].values()]
    return rps, per_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with trivial_endpoint() as (url, kind):
        print(f"endpoint: {kind} at {url}", flush=True)
        with tempfile.TemporaryDirectory(prefix="rx-bench-") as tmp:
            work = Path(tmp)
            ratios = []
            for round_no in range(1, args.rounds + 1):
                results = {}
                for workers in (1, 2):
                    rps, traffic = _measure(url, workers, args.users, args.duration, work / str(round_no))
                    results[workers] = rps
                    print(f"round {round_no}, {workers} worker(s): {rps:8.1f} req/s (baseline: 10% ramp, then "
                          f"{args.users} users) | recorder traffic per worker: "
                          f"{', '.join(f'{t / 1024:.1f} KiB/s' for t in traffic)}", flush=True)
                ratios.append(results[2] / results[1])
    print(f"distributed scale: 2 workers / 1 worker throughput ratio {statistics.median(ratios):.2f} "
          f"(median of {len(ratios)})")


if __name__ == "__main__":
    main()
