"""Recorder overhead: requests/s of rxsuite's instrumented users vs plain Locust FastHttpUser, same endpoint.

  plain    a FastHttpUser doing `self.client.get(path)`, Locust's own statistics only. It sends the same request
           as rxsuite's user, `apikey` header included (the platform's protocol, not instrumentation);
  rxsuite  ProbeUser (content check, route-template name) with the plugin installed: the recorder on
           `events.request`, per-window histograms, latency.jsonl and live.json written every second.

This machine's CPU speed drifts by 10-15 % from second to second (a shared host; a turn's count swings by up
to 2x), more than the effect to measure, so two separate runs cannot be compared. Both sides therefore run in one
Locust process, with the same number of users each, taking turns: every --phase seconds the turn passes, and
the recorder listens only in rxsuite's turns. Each rxsuite turn is compared with the mean of the plain turns
just before and after it (a linear drift cancels); the ratio is the geometric mean of those comparisons, with
its 95 % interval. A request is counted in the turn it started in; the ~20 in flight when a turn ends finish in
the other side's turn, under 3 % of a turn's requests at 0.25 s.

Separate runs (processes) still differ by more than one run's interval admits: 0.942 to 0.973 over three 120 s
runs of the same code. So the bench makes --runs of them, each in its own process, and reports the geometric
mean of their ratios with the 95 % interval of that mean (t distribution over the runs), which holds the
between-run noise as well as the within-run one. The verdict is on that interval.

The plugin's once-a-second work (settling the staged samples, building, shipping and writing the windows,
live.json) is timed wherever it falls and taken out of that turn's time, less the time it waits on gevent's
threadpool for the record's fsync, when the users run. A real run pays it once per second
of its whole length, so the ratio is multiplied by (1 - ticks' share of the run). The tick here settled only
rxsuite's half of the requests, so the recorder's part of it (WindowBuffer.close: settling and histograms) is
counted twice, as if every request had been rxsuite's. With two CPUs or more the endpoint is pinned to one and
the generator to the others, so the generator is measured alone on its CPU, as on a load-generation machine
of its own.

With --instructions, a second, steadier measure: Valgrind counts the user-space CPU instructions per request of
each side (one user, sequential requests after a warm-up, N requests minus a run with none). It does not see
what the instructions cost in cache misses, and rxsuite's cost per request in CPU time has come out higher than
its share of instructions, so it is not a bound of the throughput ratio either way.

    .venv/bin/python bench/recorder_overhead.py [--runs 4] [--duration 120] [--users 20] [--phase 0.25]
                                                [--instructions]
Target (issue 14: public Locust API only, the checked request event fires through EventHook.fire): ratio >= 0.93.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _endpoint import trivial_endpoint  # noqa: E402

from locustfiles.config import ANON_KEY_ENV, CONFIG_ENV, CREDENTIALS_ENV, LoadConfig, only_models  # noqa: E402

_PATH = "/rest/v1/medications?select=id,name&limit=1"
_NAME = "/rest/v1/medications?[probe]"
_SAME_REQUEST_HEADERS = {"apikey": "bench"}  # what ProbeUser sends with RXSUITE_ANON_KEY=bench
_WARMUP_S = 3.0
_COUNT_WARMUP = 100
# With two CPUs or more the endpoint gets the last one and the generator the rest, so the generator is measured
# alone on its CPU; when the scheduler let them share a core, part of every request's time was HAProxy's, the
# same on both sides, and the ratio came out closer to 1 in some runs than in others.
_ENDPOINT_CPU = max(os.sched_getaffinity(0)) if len(os.sched_getaffinity(0)) >= 2 else None
_TARGET = 0.93


def _child_env(url: str, work: Path, duration_s: float) -> dict[str, str]:
    models = only_models(probe={"weight": 1, "path": _PATH})
    config = LoadConfig(base_url=url, profile="smoke", users=1, duration_s=max(1, math.ceil(duration_s)),
                        user_models=models, run_dir=str(work / "run"), abort_after_s=0)
    config.save(work / "config.json")
    (work / "creds.csv").write_text("email,password,role\n")
    return {**os.environ, CONFIG_ENV: str(work / "config.json"), ANON_KEY_ENV: _SAME_REQUEST_HEADERS["apikey"],
            CREDENTIALS_ENV: str(work / "creds.csv"), "PYTHONPATH": str(ROOT)}


def _turns_child(url: str, users: int, duration_s: float, phase_s: float, out: Path) -> None:
    """In its own process (Locust monkey-patches on import): the turn-taking run; writes its counts to `out`."""
    if _ENDPOINT_CPU is not None:
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {_ENDPOINT_CPU})
    import gevent
    from locust import FastHttpUser, constant, events, task
    from locust.env import Environment

    from locustfiles import plugin
    from locustfiles.users import ProbeUser

    plugin.configure_user_classes(plugin.runtime_config())
    turn: dict[str, Any] = {"side": "plain", "index": 0, "ends": math.inf}
    counts: dict[int, int] = {}

    def await_turn(side: str) -> int:
        while turn["side"] != side:
            gevent.sleep(max(0.0, turn["ends"] - time.time()) + 0.0005)
        return int(turn["index"])

    class PlainUser(FastHttpUser):
        fixed_count = users
        wait_time = constant(0)
        host = url
        default_headers = _SAME_REQUEST_HEADERS

        @task
        def probe(self) -> None:
            index = await_turn("plain")
            self.client.get(_PATH, name=_NAME)
            counts[index] = counts.get(index, 0) + 1

    class RxsuiteUser(ProbeUser):
        fixed_count = users
        wait_time = constant(0)

        def probe_in_turn(self) -> None:
            index = await_turn("rxsuite")
            self.probe()
            counts[index] = counts.get(index, 0) + 1

    RxsuiteUser.tasks = [RxsuiteUser.probe_in_turn]  # set in the class body, Locust would add ProbeUser's tasks

    environment = Environment(user_classes=[PlainUser, RxsuiteUser], events=events, host=url)
    runner = environment.create_local_runner()
    plugin.install(environment)
    recorder, collector = plugin.LOCAL, plugin.COLLECTOR
    assert recorder is not None and collector is not None

    def timed(work: Any, into: dict[int, float]) -> Any:
        """`work` with its wall time added up, by the turn it ran in."""
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                index = int(turn["index"])
                into[index] = into.get(index, 0.0) + time.perf_counter() - started
        return run

    tick_s: dict[int, float] = {}  # the plugin's once-a-second work
    close_s: dict[int, float] = {}  # the recorder's part of it: settling the samples, building histograms
    waited_s: dict[int, float] = {}  # the tick waiting for the record's fsync on a thread: users run
    collector.tick = timed(collector.tick, tick_s)  # type: ignore[method-assign]
    recorder.buffer.close = timed(recorder.buffer.close, close_s)  # type: ignore[method-assign]
    collector.writer.sync = timed(collector.writer.sync, waited_s)
    turn["ends"] = time.time() + 1.0
    runner.start(2 * users, spawn_rate=2 * users)
    gevent.sleep(1.0)
    total_phases = 2 * round((_WARMUP_S + duration_s) / phase_s / 2)
    started_at = time.time()
    listening = True
    cpu = {"plain": [0.0, 0.0], "rxsuite": [0.0, 0.0]}  # user, system seconds spent in each side's turns
    warmup = 2 * round(_WARMUP_S / phase_s / 2)
    for index in range(total_phases):
        side = "plain" if index % 2 == 0 else "rxsuite"
        if (side == "rxsuite") != listening:
            (events.request.add_listener if side == "rxsuite" else events.request.remove_listener)(recorder.on_request)
            listening = side == "rxsuite"
        turn.update(side=side, index=index, ends=started_at + (index + 1) * phase_s)
        before = os.times()
        gevent.sleep(max(0.0, turn["ends"] - time.time()))
        after = os.times()
        if index >= warmup:
            cpu[side][0] += after.user - before.user
            cpu[side][1] += after.system - before.system
    turn.update(side="", ends=math.inf)
    runner.quit()
    collector.finish()
    measured = range(warmup, total_phases)
    # the tick's time on the event loop, when no user ran: its wall time less its waits on the threadpool
    on_loop_s = {i: max(0.0, tick_s.get(i, 0.0) - waited_s.get(i, 0.0)) for i in measured}
    out.write_text(json.dumps({"counts": [counts.get(i, 0) for i in measured], "cpu": cpu, "phase_s": phase_s,
                               "tick_s": [on_loop_s[i] for i in measured],
                               "close_s": sum(close_s.get(i, 0.0) for i in measured)}))


def _count_child(url: str, side: str, requests: int) -> None:
    """Under Valgrind: one user, `requests` sequential requests of one side (the recorder listening for rxsuite)."""
    from locust import FastHttpUser, events
    from locust.env import Environment

    from locustfiles import plugin, runtime
    from locustfiles.recorder import SampleRecorder
    from locustfiles.users import ProbeUser

    config = plugin.runtime_config()
    plugin.configure_user_classes(config)
    environment = Environment(user_classes=[ProbeUser], events=events, host=url)
    runtime.init(environment, config)
    recorder = SampleRecorder(config.window_s)
    if side == "plain":
        plain_user = type("PlainUser", (FastHttpUser,), {"host": url, "default_headers": _SAME_REQUEST_HEADERS})
        user: Any = plain_user(environment)
        call = lambda: user.client.get(_PATH, name=_NAME)  # noqa: E731
    else:
        user = ProbeUser(environment)
        user.on_start()
        events.request.add_listener(recorder.on_request)
        call = user.probe
    for _ in range(_COUNT_WARMUP):  # first-use costs (lazy imports, caches) fall in both runs and cancel
        call()
    recorder.buffer.settle()
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way, so a full collection is not a coin toss
    for _ in range(requests):
        call()
    recorder.buffer.settle()  # the staged samples' share of the recorder's work is counted too


def _interval(ratios: list[float]) -> tuple[float, float, float]:
    """Geometric mean of ratios and its 95 % interval (t distribution on the logs)."""
    from scipy import stats

    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def _runs(url: str, args: argparse.Namespace, work: Path) -> tuple[float, float]:
    """The throughput ratio and the low end of its 95 % interval, over --runs processes.

    Runs in separate processes differ by more than one run's interval admits (memory layout, the host's load), so
    with two runs or more the interval is that of the runs' ratios, which holds both kinds of noise.
    """
    if args.runs == 1:
        return _turns(url, args, work)
    ratios = []
    for run in range(1, args.runs + 1):
        print(f"run {run} of {args.runs}", flush=True)
        ratios.append(_turns(url, args, work)[0])
    ratio, low, high = _interval(ratios)
    print(f"{args.runs} runs: {', '.join(f'{r:.3f}' for r in ratios)}; ratio {ratio:.3f} (95 % interval "
          f"{low:.3f}-{high:.3f}, from the spread of the runs)")
    return ratio, low


def _turns(url: str, args: argparse.Namespace, work: Path) -> tuple[float, float]:
    """One process's throughput ratio and the low end of its 95 % interval."""
    env = _child_env(url, work, args.duration)
    out = work / "turns.json"
    subprocess.run([sys.executable, __file__, "--turns-child", url, str(args.users), str(args.duration),
                    str(args.phase), str(out)], cwd=ROOT, env=env, check=True, timeout=args.duration + 120)
    result = json.loads(out.read_text())
    counts, phase_s, tick_s = result["counts"], result["phase_s"], result["tick_s"]
    # a turn's own time is its length less the plugin's tick inside it
    rates = [count / (phase_s - tick) for count, tick in zip(counts, tick_s, strict=True)]
    plain, ours = rates[0::2], rates[1::2]
    # each rxsuite turn against the plain turns either side of it (the last rxsuite turn has none after it)
    bracketed = [o / ((before + after) / 2) for before, o, after in zip(plain[:-1], ours[:-1], plain[1:], strict=True)
                 if before and o and after]
    run_s = len(counts) * phase_s
    tick_share = (sum(tick_s) + result["close_s"]) / run_s  # the recorder's part twice: see the docstring
    ratio, low, high = (value * (1 - tick_share) for value in _interval(bracketed))
    print(f"turns: {len(counts)} of {phase_s:g} s after a {_WARMUP_S:g} s warm-up, {args.users} users a side")
    for side, done in (("plain", counts[0::2]), ("rxsuite", counts[1::2])):
        user_s, system_s = result["cpu"][side]
        print(f"  {side:8s} {sum(done) / (len(done) * phase_s):7.0f} req/s ({sum(done)} requests); CPU per request "
              f"{user_s / sum(done) * 1e6:5.1f} us user + {system_s / sum(done) * 1e6:5.1f} us system")
    print(f"  plugin's once-a-second work: {sum(tick_s):.2f} s, of which the recorder's {result['close_s']:.2f} s; "
          f"charged as {tick_share:.2%} of a run")
    print(f"  ratio {ratio:.3f} (95 % interval {low:.3f}-{high:.3f}; {len(bracketed)} rxsuite turns, each against "
          f"the plain turns either side)")
    return ratio, low


def _instructions(url: str, work: Path, requests: int) -> float | None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions: skipped, valgrind is not installed (apt-get install valgrind)")
        return None
    # same dict layouts in every counted run; and no OpenBLAS threads spinning after numpy's import, whose
    # instructions Valgrind would count
    env = {**_child_env(url, work, 1), "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}

    def count(side: str, n: int) -> int:
        done = subprocess.run([valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                               __file__, "--count-child", url, side, str(n)], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True, timeout=1800)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"valgrind printed no instruction count:\n{done.stderr[-2000:]}")
        return int(found.group(1))

    jobs = [("plain", 0), ("plain", requests), ("rxsuite", 0), ("rxsuite", requests)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: count(*job), jobs), strict=True))
    per = {side: (totals[(side, requests)] - totals[(side, 0)]) / requests for side in ("plain", "rxsuite")}
    ratio = per["plain"] / per["rxsuite"]
    print(f"instructions per request (Valgrind, user space, {requests} requests minus none): plain "
          f"{per['plain']:,.0f} | rxsuite {per['rxsuite']:,.0f} | ratio {ratio:.3f}")
    return ratio


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--turns-child":
        url, users, duration, phase, out = sys.argv[2:7]
        _turns_child(url, int(users), float(duration), float(phase), Path(out))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--count-child":
        _count_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120.0, help="measured seconds a run, both sides together")
    parser.add_argument("--runs", type=int, default=4, help="runs, each in its own process")
    parser.add_argument("--users", type=int, default=20, help="users per side")
    parser.add_argument("--phase", type=float, default=0.25, help="seconds per turn")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under Valgrind")
    parser.add_argument("--requests", type=int, default=1500, help="requests per Valgrind run")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give 1 or more (2 or more for an interval that holds between runs)")
    with trivial_endpoint(cpu=_ENDPOINT_CPU) as (url, kind), tempfile.TemporaryDirectory(prefix="rx-bench-") as tmp:
        print(f"endpoint: {kind} at {url}")
        ratio, low = _runs(url, args, Path(tmp))
        instruction_ratio = _instructions(url, Path(tmp), args.requests) if args.instructions else None
    if low >= _TARGET:
        verdict = "met, by the whole 95 % interval"
    elif ratio >= _TARGET:
        verdict = "met by the estimate, but its 95 % interval reaches below: run longer"
    else:
        verdict = "NOT met"
    extra = f"; instruction ratio {instruction_ratio:.3f}" if instruction_ratio is not None else ""
    print(f"recorder overhead: rxsuite/plain throughput ratio {ratio:.3f} (target >= {_TARGET}: {verdict}){extra}")


if __name__ == "__main__":
    main()
