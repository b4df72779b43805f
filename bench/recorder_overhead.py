"""Recorder overhead: requests/s of rxsuite's instrumented users vs plain Locust FastHttpUser, same endpoint.

Both sides run the same Locust command line (one process, headless, same users, no think time, same duration)
against the same trivial local endpoint (tests/trivial_server.py); only the locustfile differs:
  plain  a FastHttpUser doing `self.client.get(path)`;
  rxsuite locustfiles/rxlocust.py: ProbeUser (content check, route-template name) + the recorder plugin
          (per-window histograms, live.json, latency.jsonl, load.json).
Rounds alternate plain/rxsuite so drift on a shared machine hits both; the ratio is the median of the rounds.
Target (issue 3): ratio >= 0.95. On a busy machine wall-clock throughput swings with the neighbours, so the
requests per CPU-second of the Locust process (its own user + system time) are printed too: the cost ratio is
what the instrumentation adds, whatever else runs. Last, one process times the CPU per request of one user
calling sequentially (plain `client.get` vs ProbeUser.probe with the recorder listening), which the
neighbours disturb least.

    .venv/bin/python bench/recorder_overhead.py [--duration 10] [--users 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from locustfiles.config import ANON_KEY_ENV, CONFIG_ENV, DEFAULT_USER_MODELS, LoadConfig  # noqa: E402
from rxsuite.environment import CREDENTIALS_ENV  # noqa: E402

_PATH = "/rest/v1/medications?select=id,name&limit=1"
_PLAIN = f'''
from locust import FastHttpUser, constant, task


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def probe(self):
        self.client.get("{_PATH}", name="/rest/v1/medications?[probe]")
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _locust(locustfile: Path, url: str, users: int, duration: int, out: Path,
            env: dict[str, str]) -> tuple[float, float]:
    """Requests per second and requests per CPU-second of the Locust process."""
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration}s", "-H", url, "--only-summary", "--json-file", str(out.with_suffix("")),
            "--loglevel", "WARNING", "--exit-code-on-error", "0", "--stop-timeout", "5s"]
    cpu_before = _child_cpu_s()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=duration + 60)
    cpu = _child_cpu_s() - cpu_before
    stats = [s for s in json.loads(out.read_text()) if s["name"] != "Aggregated"]
    requests = sum(s["num_requests"] for s in stats)
    span = max(s["last_request_timestamp"] for s in stats) - min(s["start_time"] for s in stats)
    return requests / span, requests / cpu


def _cpu_per_request(url: str, count: int) -> None:
    """In a child process (Locust monkey-patches on import): CPU microseconds per request, plain vs rxsuite."""
    from locust import events
    from locust.env import Environment

    from locustfiles import runtime
    from locustfiles.plugin import configure_user_classes
    from locustfiles.recorder import SampleRecorder
    from locustfiles.users import ProbeUser

    os.environ.setdefault(ANON_KEY_ENV, "bench")
    models = {name: dict(settings, weight=0) for name, settings in DEFAULT_USER_MODELS.items()}
    models["probe"] = {"weight": 1, "wait": [0.0, 0.0], "path": _PATH}
    config = LoadConfig(base_url=url, user_models=models)
    configure_user_classes(config)
    environment = Environment(user_classes=[ProbeUser], events=events, host=url)
    runtime.init(environment, config)
    user = ProbeUser(environment)
    user.on_start()
    recorder = SampleRecorder()

    def plain() -> None:
        user.client.get(_PATH, name="/rest/v1/medications?[probe]")

    def timed(fn: Any, listen: bool) -> float:
        if listen:
            events.request.add_listener(recorder.on_request)
        for _ in range(200):
            fn()
        started = time.process_time()
        for _ in range(count):
            fn()
        spent = time.process_time() - started
        if listen:
            events.request.remove_listener(recorder.on_request)
        return spent / count * 1e6

    rounds = [(timed(plain, False), timed(user.probe, True)) for _ in range(3)]
    plain_us, ours_us = min(r[0] for r in rounds), min(r[1] for r in rounds)
    print(f"CPU per request, one user in one process (min of 3 x {count}): plain {plain_us:.0f} us | rxsuite "
          f"(content check + recorder) {ours_us:.0f} us | ratio plain/rxsuite {plain_us / ours_us:.3f}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--cpu-child":
        _cpu_per_request(sys.argv[2], 5000)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "trivial_server.py"), str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and "listening" in server.stdout.readline()
        with tempfile.TemporaryDirectory(prefix="rx-bench-") as tmp:
            work = Path(tmp)
            plain = work / "plain_locustfile.py"
            plain.write_text(_PLAIN)
            models = {name: dict(settings, weight=0) for name, settings in DEFAULT_USER_MODELS.items()}
            models["probe"] = {"weight": 1, "wait": [0.0, 0.0], "path": _PATH}
            run_dir = work / "run"
            config = LoadConfig(base_url=url, profile="smoke", users=args.users, duration_s=args.duration,
                                user_models=models, run_dir=str(run_dir), abort_after_s=0)
            config.save(work / "config.json")
            (work / "creds.csv").write_text("email,password,role\n")
            env = {**os.environ, CONFIG_ENV: str(work / "config.json"), ANON_KEY_ENV: "bench",
                   CREDENTIALS_ENV: str(work / "creds.csv"), "PYTHONPATH": str(ROOT)}
            ratios, cost_ratios = [], []
            for round_no in range(1, args.rounds + 1):
                plain_rps, plain_per_cpu = _locust(plain, url, args.users, args.duration, work / "plain.json", env)
                ours_rps, ours_per_cpu = _locust(ROOT / "locustfiles" / "rxlocust.py", url, args.users,
                                                 args.duration, work / "ours.json", env)
                ratios.append(ours_rps / plain_rps)
                cost_ratios.append(ours_per_cpu / plain_per_cpu)
                print(f"round {round_no}: plain {plain_rps:7.1f} req/s ({plain_per_cpu:6.0f} per CPU-s) | rxsuite "
                      f"{ours_rps:7.1f} req/s ({ours_per_cpu:6.0f} per CPU-s) | ratio {ratios[-1]:.3f}, "
                      f"per CPU-s {cost_ratios[-1]:.3f}", flush=True)
                time.sleep(1)
            recorded = json.loads((run_dir / "load.json").read_text())["overall"]["requests"]
            print(f"last rxsuite run recorded {recorded} requests in latency.jsonl")
            subprocess.run([sys.executable, __file__, "--cpu-child", url], cwd=ROOT, env=env, check=True,
                           timeout=300)
    finally:
        server.kill()
        server.wait(timeout=10)
    median = statistics.median(ratios)
    cost = statistics.median(cost_ratios)
    print(f"recorder overhead: rxsuite/plain throughput ratio {median:.3f}, requests per CPU-second ratio "
          f"{cost:.3f} (medians of {len(ratios)}; target >= 0.95: {'met' if median >= 0.95 else 'NOT met'} / "
          f"{'met' if cost >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
