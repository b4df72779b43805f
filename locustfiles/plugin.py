"""Wires the recorder, the arrival schedule and the load shape into Locust through its event hooks.

Roles by process:
- every process with users: `events.request` feeds a SampleRecorder (and the raw sample file with --raw);
- a worker ships closed windows in `report_to_master`, and everything left at test stop;
- the master (or the only process) merges them (`worker_report`), writes `latency.jsonl`, `live.json` each
  second, and `load.json` (summary, stop reason) when Locust quits. It also stops the run when the target
  stops answering (`abort_after_s` without a successful response);
- every process with users samples its own CPU demand each window and ships it with the schedule's figures; the
  master measures each worker's clock against its own on the worker's first report, and load.json carries the
  run's validity (slo.validity).
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gevent
import gevent.lock
from locust import LoadTestShape, User, events
from locust.runners import STATE_INIT, STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner

from locustfiles import runtime
from locustfiles.capacity import CapacityFinder
from locustfiles.config import LoadConfig
from locustfiles.generator import CpuMonitor
from locustfiles.profiles import level_at, stages_for
from locustfiles.recorder import SampleRecorder, WindowMerger, as_histogram, latency_summary
from locustfiles.users import USER_CLASSES
from rxcore.files import write_json_atomic
from slo.histogram import Histogram
from slo.records import RecordWriter
from slo.validity import judge_load

LIVE_FILE = "live.json"
SUMMARY_FILE = "load.json"
CAPACITY_FILE = "capacity.json"
_RATE_MESSAGE = "rx_rate"
_LOCAL_SOURCE = "local"  # the users of the process that owns the run folder
_SOURCE_SILENT_S = 10.0  # a worker silent this long is dead: stop waiting for its windows


class Collector:
    """The run-folder half, in the master or the only process."""

    def __init__(self, environment: Any, config: LoadConfig) -> None:
        assert config.run_dir is not None
        self.environment = environment
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.writer = RecordWriter(self.run_dir, sync=_sync_off_loop)
        self.merger = WindowMerger(self.writer, on_window=self._on_window)
        self.started_at = time.time()
        self.load_started_at: float | None = None  # when users started (the master may wait for workers first)
        self.stop_reason: str | None = None
        self.stop_detail = ""
        self.stopping = False
        self.finder: CapacityFinder | None = None
        self._last_report: dict[str, float] = {}
        self._final_sources: set[str] = set()
        self._extras: dict[str, dict[str, Any]] = {}
        self._cpu_series: dict[str, list[list[float]]] = {}
        self._clock_skew_s: dict[str, float] = {}
        self._from_send: dict[str, Histogram] = {}
        self._finished = False
        # a tick yields while the record's fsync waits on a thread: the end of the run waits for it rather than
        # cutting it short, which would lose the windows it had taken from the merger but not yet totalled
        self._ticking = gevent.lock.BoundedSemaphore()
        self._loop = gevent.spawn(self._tick_forever)

    def receive(self, source: str, data: dict[str, Any]) -> None:
        """One source's shipment: a worker's from its report, this process's own straight from its recorder."""
        received_at = time.time()
        size = 0 if source == _LOCAL_SOURCE else len(json.dumps(data, separators=(",", ":")))
        if source != _LOCAL_SOURCE and source not in self._clock_skew_s and data.get("sent_at"):
            self._clock_skew_s[source] = float(data["sent_at"]) - received_at  # transit (ms locally) included
        watermark = math.inf if data["final"] else float(data["watermark"])
        self.merger.receive(source, data["windows"], watermark, size_bytes=size)
        self._last_report[source] = time.time()
        if data["final"]:
            self._final_sources.add(source)
        self._extras[source] = {k: data[k] for k in ("content_errors", "problems", "arrival", "generator")}
        self._cpu_series.setdefault(source, []).extend(data["generator"]["series"])
        for name, payload in data["from_send"].items():
            self._from_send.setdefault(name, Histogram()).add(as_histogram(payload))

    def live_sources(self, now: float) -> list[str]:
        return [s for s, at in self._last_report.items()
                if s not in self._final_sources and now - at < _SOURCE_SILENT_S]

    def _on_window(self, start: float, duration: float, outcomes: list[int], histogram: Any) -> None:
        if self.finder is not None:
            self.finder.on_window(start, duration, outcomes, histogram)

    def _tick_forever(self) -> None:
        while True:
            gevent.sleep(1.0)
            try:
                with self._ticking:
                    self.tick(time.time())
            except Exception as exc:  # a bug here must not stop the load quietly
                runtime.state().note_problem(f"recorder tick failed: {exc!r}")

    def tick(self, now: float) -> None:
        if LOCAL is not None:
            self.receive(_LOCAL_SOURCE, LOCAL.ship(now, serialised=False))
        self.merger.flush(now, self.live_sources(now))
        self._write_live(now)
        self._check_target(now)

    def _check_target(self, now: float) -> None:
        if self.stop_reason is not None or self.config.abort_after_s <= 0 or self.load_started_at is None:
            return
        last_ok = max(self.merger.last_ok_at or 0.0, self.load_started_at)
        if now - last_ok > self.config.abort_after_s:
            silent, limit = now - last_ok, self.config.abort_after_s
            self.request_stop("target_unreachable", f"no successful response for {silent:.0f} s (limit {limit:g} s)")

    def request_stop(self, reason: str, detail: str) -> None:
        """Stop at the shape's next tick (the normal, graceful end); quit at once if no shape runs yet."""
        if self.stop_reason is None:
            self.stop_reason, self.stop_detail = reason, detail
        self.stopping = True
        if self.environment.runner.state in (STATE_INIT, STATE_STOPPED):
            gevent.spawn(self.environment.runner.quit)

    def _write_live(self, now: float) -> None:
        runner = self.environment.runner
        total = runner.stats.total
        p95 = total.get_current_response_time_percentile(0.95) if total.num_requests else None
        write_json_atomic(self.run_dir / LIVE_FILE, {
            "at": now, "elapsed_s": round(now - self.started_at, 1), "state": runner.state,
            "users": runner.user_count, "rps": round(total.current_rps, 1), "p95_ms": p95,
            "requests": total.num_requests, "failures": total.num_failures,
            "workers": runner.worker_count if isinstance(runner, MasterRunner) else None,
            "recorded_windows": self.merger.windows_written, "stop_reason": self.stop_reason,
        }, durable=False)

    def finish(self) -> None:
        """Write everything still pending, close the record, write the summary. Idempotent."""
        if self._finished:
            return
        self._finished = True
        with self._ticking:
            self._loop.kill()
        if LOCAL is not None:
            LOCAL.final = True
            self.receive(_LOCAL_SOURCE, LOCAL.ship(time.time(), serialised=False))
            LOCAL.close_raw()
        self.merger.flush(final=True)
        self.writer.close()
        if self.finder is not None:
            if self.stop_reason == "completed":  # the last step ended with the run: finder it now
                self.finder.evaluate_complete(math.inf)
            write_json_atomic(self.run_dir / CAPACITY_FILE, self.finder.summary())
        self._write_live(time.time())
        write_json_atomic(self.run_dir / SUMMARY_FILE, self.summary())

    def summary(self) -> dict[str, Any]:
        content_errors: dict[str, int] = {}
        problems: dict[str, int] = {}
        arrival: dict[str, Any] = {"slots": 0, "late_slots": 0, "max_lag_s": 0.0}
        generators: dict[str, dict[str, Any]] = {}
        for source, extra in sorted(self._extras.items()):
            generators[source] = {**extra["generator"]["cpu"], **extra["arrival"],
                                  "clock_skew_s": _rounded(self._clock_skew_s.get(source))}
            for key, value in extra["content_errors"].items():
                content_errors[key] = content_errors.get(key, 0) + value
            for key, value in extra["problems"].items():
                problems[key] = problems.get(key, 0) + value
            for key in ("slots", "late_slots", "backlog_slots", "on_time_slots", "late_wakeups"):
                arrival[key] = arrival.get(key, 0) + extra["arrival"][key]
            arrival["max_lag_s"] = max(arrival["max_lag_s"], extra["arrival"]["max_lag_s"])
        for key, value in runtime.state().problems.items():
            problems[key] = problems.get(key, 0) + value
        if arrival["max_lag_s"] > 0.1 and arrival["late_slots"] > 0.1 * arrival["slots"]:
            arrival["note"] = (f"{arrival['late_slots']} of {arrival['slots']} iterations started late (up to "
                               f"{arrival['max_lag_s']:.2f} s): the platform was slow, or the load generator was "
                               "short of users (--users) or CPU; the lag is counted in the latencies")
        cfg = self.config
        return {
            "mode": cfg.mode, "mode_note": _MODE_NOTES[cfg.mode], "profile": cfg.profile,
            "peak_users": cfg.users, "peak_rate": cfg.rate, "duration_s": cfg.duration_s,
            "started_at": self.started_at, "ended_at": time.time(),
            "stop_reason": self.stop_reason or "stopped", "stop_detail": self.stop_detail,
            "sources": sorted(self._extras), "recorder_bytes": dict(self.merger.received_bytes),
            "windows_written": self.merger.windows_written, "late_windows": self.merger.late_windows,
            "overall": self.merger.overall.summary(),
            "by_name": {name: t.summary() for name, t in sorted(self.merger.totals.items())},
            "content_errors": content_errors, "problems": problems,
            "arrival": arrival if cfg.mode == "arrival" else None,
            "from_send": self._from_send_summary() if cfg.mode == "arrival" else None,
            "capacity": self.finder.summary() if self.finder is not None else None,
            "generators": generators,
            "generator_cpu": {source: series for source, series in sorted(self._cpu_series.items())},
            "validity": judge_load(generators).to_dict(),
        }

    def _from_send_summary(self) -> dict[str, Any]:
        """Arrival mode's second view: latency from the actual send, beside `overall`/`by_name` (intended start)."""
        overall = Histogram()
        for histogram in self._from_send.values():
            overall.add(histogram)
        return {"overall": latency_summary(overall),
                "by_name": {name: latency_summary(h) for name, h in sorted(self._from_send.items())}}


_MODE_NOTES = {
    "closed": "closed loop: each user waits for its response, then thinks; latency is measured from the actual "
              "send time, so a stall slows the users and is partly hidden (coordinated omission)",
    "arrival": "arrival rate: iterations start on a fixed schedule; latency is measured from the intended start, "
               "so a stall shows in full",
}

LOCAL: SampleRecorder | None = None
COLLECTOR: Collector | None = None
MONITOR: CpuMonitor | None = None


def _extras() -> dict[str, Any]:
    """What a process reports besides windows: problems met, the schedule's and the CPU's figures, its clock."""
    monitor = MONITOR
    generator = {"cpu": monitor.figures(), "series": monitor.take_series()} if monitor else {"cpu": {}, "series": []}
    return {"problems": dict(runtime.state().problems), "arrival": runtime.state().schedule.figures(),
            "generator": generator, "sent_at": time.time()}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _watch_cpu(environment: Any, monitor: CpuMonitor, window_s: float) -> None:
    """Sample this process's CPU demand each window while its users run (idle time before and after is not the
    run's, and would dilute the share of saturated windows)."""
    loops: list[Any] = []

    def sample_forever() -> None:
        while True:
            gevent.sleep(window_s)
            monitor.sample()

    def start(**_: Any) -> None:
        if not loops:
            monitor.restart()
            loops.append(gevent.spawn(sample_forever))

    def stop(**_: Any) -> None:
        while loops:
            loops.pop().kill()

    environment.events.test_start.add_listener(start)
    environment.events.test_stop.add_listener(stop)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def configure_user_classes(config: LoadConfig) -> list[type]:
    """Weights, think times and task weights from the environment's `users:` section; unused models get weight 0."""
    from locust import between

    chosen = []
    for model, cls in USER_CLASSES.items():
        settings = config.user_models.get(model, {})
        weight = int(settings.get("weight", 0))
        cls.weight = weight
        if config.mode == "arrival":
            cls.wait_time = cast("Callable[[User], float]", cls.paced_wait)  # every instance of cls is a PlatformUser
        else:
            low, high = settings.get("wait", [1.0, 3.0])
            cls.wait_time = between(float(low), float(high))
        task_weights = {**cls.default_task_weights, **settings.get("tasks", {})}
        cls.tasks = [getattr(cls, name) for name, w in task_weights.items() for _ in range(int(w))]
        cls.network_timeout = cls.connection_timeout = config.request_timeout_s
        cls.host = config.base_url
        if weight > 0:
            chosen.append(cls)
    return chosen


def install(environment: Any) -> None:
    """Called from `events.init` in every process."""
    global LOCAL, COLLECTOR, MONITOR
    state = runtime.init(environment)
    config = state.config
    runner = environment.runner
    is_worker = isinstance(runner, WorkerRunner)
    is_master = isinstance(runner, MasterRunner)
    if not is_master:
        source = f"worker-{runner.client_id[-8:]}" if is_worker else _LOCAL_SOURCE
        raw_path = Path(config.run_dir) / "raw" / f"{_safe(source)}.csv.gz" if config.raw and config.run_dir else None
        LOCAL = SampleRecorder(config.window_s, raw_path, extras=_extras)
        environment.events.request.add_listener(LOCAL.on_request)
        MONITOR = CpuMonitor()
        _watch_cpu(environment, MONITOR, config.window_s)
    if is_worker:
        _install_worker(environment)
    else:
        COLLECTOR = Collector(environment, config)
        if is_master:
            environment.events.worker_report.add_listener(
                lambda client_id, data: COLLECTOR.receive(client_id, data["rx"]) if "rx" in data else None)
        environment.events.quit.add_listener(lambda exit_code: COLLECTOR.finish())
        environment.events.test_start.add_listener(lambda **_: setattr(COLLECTOR, "load_started_at", time.time()))
        # Locust installs its own SIGTERM handler only after a shape run, so a stop request (the launcher on
        # Ctrl-C, Kubernetes deleting the pod) would kill the process outright: stop gracefully instead.
        gevent.signal_handler(signal.SIGTERM, COLLECTOR.request_stop, "signal", "SIGTERM: stopped on request")


def _sync_off_loop(fd: int) -> None:
    """fsync on gevent's threadpool: the disk wait (about 1 ms a second) stalls the tick, not the users.

    The thread syncs and closes a duplicate of the descriptor: should the waiting greenlet be killed (the process
    shutting down) and the record closed, the thread's descriptor stays its own.
    """
    gevent.get_hub().threadpool.apply(_fsync_and_close, (os.dup(fd),))


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install_worker(environment: Any) -> None:
    recorder = LOCAL
    assert recorder is not None
    runner = environment.runner

    def report(client_id: str, data: dict[str, Any]) -> None:
        data["rx"] = recorder.ship(time.time())

    def stopped(environment: Any, **_: Any) -> None:
        recorder.final = True
        recorder.close_raw()

    def set_rate(environment: Any, msg: Any, **_: Any) -> None:
        runtime.state().schedule.set_rate(float(msg.data["rate"]))

    environment.events.report_to_master.add_listener(report)
    environment.events.test_stop.add_listener(stopped)
    runner.register_message(_RATE_MESSAGE, set_rate)


class RxShape(LoadTestShape):
    """The run's profile: users (closed loop) or rate (arrival) over time; capacity stops at the first SLO break."""

    def __init__(self) -> None:
        super().__init__()
        self._stages: Any = None
        self._rate_sent: tuple[float, int] | None = None
        self._rate_sent_at = 0.0

    def tick(self) -> tuple[int, float] | None:
        state = runtime.state()
        config = state.config
        if self._stages is None:
            self._stages = stages_for(config.profile, config.step_count)
            if config.profile == "capacity" and COLLECTOR is not None:
                COLLECTOR.finder = CapacityFinder(time.time(), config.duration_s / config.step_count, config.slo)
        if COLLECTOR is not None and COLLECTOR.stopping:
            return None
        t = self.get_run_time()
        level = level_at(self._stages, config.duration_s, t)
        if COLLECTOR is not None and COLLECTOR.finder is not None and self._finder_says_stop(COLLECTOR, level, t):
            return None
        if level is None:
            if COLLECTOR is not None and COLLECTOR.stop_reason is None:
                COLLECTOR.stop_reason = "completed"
            return None
        if config.mode == "arrival":
            self._send_rate(level * float(config.rate or 0))
            return config.users, float(max(config.users, 1))
        users = max(1, round(level * config.users))
        return users, float(max(users, 1))

    def _finder_says_stop(self, collector: Collector, level: float | None, t: float) -> bool:
        finder = collector.finder
        assert finder is not None
        if level is not None:
            finder.start_step(int(t // finder.step_s), level)
        verdicts = finder.evaluate_complete(collector.merger.flushed_until)
        if verdicts:
            write_json_atomic(collector.run_dir / CAPACITY_FILE, finder.summary())
        if finder.broken:
            collector.stop_reason = "slo_broken"
            collector.stop_detail = finder.summary()["broke_because"] or ""
            return True
        return False

    def _send_rate(self, rate: float) -> None:
        runner = self.runner
        if not isinstance(runner, MasterRunner):
            runtime.state().schedule.set_rate(rate)
            return
        workers = [c for c in runner.clients.all if c.state != STATE_MISSING]
        share = (rate / len(workers)) if workers else 0.0
        now = time.monotonic()
        if self._rate_sent == (share, len(workers)) and now - self._rate_sent_at < 5:
            return
        for client in workers:
            runner.send_message(_RATE_MESSAGE, {"rate": share}, client_id=client.id)
        self._rate_sent, self._rate_sent_at = (share, len(workers)), now


def on_init(environment: Any, **_: Any) -> None:
    install(environment)


def register() -> list[type]:
    """Hook the plugin into Locust and return the user classes this run uses (for the locustfile's namespace)."""
    events.init.add_listener(on_init)
    return configure_user_classes(runtime_config())


def runtime_config() -> LoadConfig:
    from locustfiles.config import current

    return current()


__all__ = ["RxShape", "register"]
