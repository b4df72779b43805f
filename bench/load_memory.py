"""Master memory over a long run at full speed: resident memory must stay flat, whatever the run's length.

A master and one local worker (rxsuite's launcher) drive ProbeUser with no think time against the trivial local
endpoint (bench/_endpoint.py) for --duration; the master's RSS is sampled every --every seconds. Printed:
RSS after the warm-up (first minute) vs at the end, the maximum, and the record's size, so growth per hour
can be read off. Default: the issue's 10 minutes.

    .venv/bin/python bench/load_memory.py [--duration 600] [--users 20] [--every 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _endpoint import trivial_endpoint  # noqa: E402

from locustfiles.config import LoadConfig, only_models  # noqa: E402
from locustfiles.launcher import Launch, run  # noqa: E402
from rxcore.environment import PlatformTarget  # noqa: E402
from rxcore.runfolder import RunFolder  # noqa: E402

_WARMUP_S = 60.0


def _sample(folder: RunFolder, every: float, samples: list[tuple[float, int, int]], done: threading.Event) -> None:
    start = time.monotonic()
    master: psutil.Process | None = None
    while not done.wait(1.0 if master is None else every):
        if master is None:
            pid = json.loads((folder.path / "run.json").read_text()).get("processes", {}).get("master")
            master = psutil.Process(pid) if pid else None
            continue
        try:
            rss = master.memory_info().rss
        except psutil.NoSuchProcess:
            return
        live = folder.path / "live.json"
        requests = json.loads(live.read_text()).get("requests", 0) if live.exists() else 0
        samples.append((time.monotonic() - start, rss, requests))
        print(f"{samples[-1][0]:6.0f} s  master RSS {rss / 2**20:7.1f} MiB  requests {requests}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--every", type=float, default=30.0)
    args = parser.parse_args()
    if args.duration < 2 * args.every:
        parser.error(f"--duration {args.duration} is too short for a sample every {args.every:g} s: give at least "
                     f"twice --every (e.g. --every {max(1, args.duration // 4)})")
    samples: list[tuple[float, int, int]] = []
    with trivial_endpoint() as (url, kind):
        print(f"endpoint: {kind} at {url}", flush=True)
        with tempfile.TemporaryDirectory(prefix="rx-bench-") as tmp:
            work = Path(tmp)
            (work / "creds.csv").write_text("email,password,role\n")
            models = only_models(probe={"weight": 1})
            config = LoadConfig(base_url=url, profile="soak", users=args.users, duration_s=args.duration,
                                processes=1, user_models=models, abort_after_s=0)
            folder = RunFolder.create(work, "load", "bench")
            done = threading.Event()
            sampler = threading.Thread(target=_sample, args=(folder, args.every, samples, done), daemon=True)
            sampler.start()
            try:
                outcome = run(Launch(config, PlatformTarget(url, "bench", work / "creds.csv"), workers=1), folder)
            finally:
                done.set()
                sampler.join(timeout=10)
            record_mb = (folder.path / "latency.jsonl").stat().st_size / 2**20
            requests = outcome.summary["overall"]["requests"] if outcome.summary else 0
    after_warmup = next((s for s in samples if s[0] >= _WARMUP_S), samples[0])
    end = samples[-1]
    peak = max(s[1] for s in samples)
    growth = (end[1] - after_warmup[1]) / 2**20
    per_hour = growth / max(end[0] - after_warmup[0], 1) * 3600
    print(f"master RSS: {after_warmup[1] / 2**20:.1f} MiB at {after_warmup[0]:.0f} s -> {end[1] / 2**20:.1f} MiB at "
          f"{end[0]:.0f} s (max {peak / 2**20:.1f} MiB; {growth:+.1f} MiB, {per_hour:+.1f} MiB/h) over "
          f"{requests} requests; latency.jsonl {record_mb:.1f} MiB")


if __name__ == "__main__":
    main()
