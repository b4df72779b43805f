"""Runs Locust as child processes (a single process, or a master and N workers) and watches them.

Locust runs in its own processes (it monkey-patches the standard library with gevent) and in its own session,
so a terminal's Ctrl-C reaches only this process, which then stops Locust in order: SIGTERM to the master,
which tells its workers to send their last windows and quit, so the record is complete for what was measured.
A worker that dies, a master that dies, or a run that overstays its deadline are noticed here and written to
run.json as events. Every child is waited for and, if it will not go, killed by pid: no process is left.
The run's validity (slo.validity: the master's judgement of its generators, plus any worker lost) goes to run.json
and load.json; an invalid run that otherwise completed exits with ExitCode.INVALID, whatever its SLOs say.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from locustfiles.config import ANON_KEY_ENV, CONFIG_ENV, CREDENTIALS_ENV, LoadConfig
from rxcore.environment import PlatformTarget
from rxcore.exitcodes import ExitCode
from rxcore.files import write_json_atomic
from rxcore.runfolder import RunFolder
from slo.validity import INVALID, Validity, judge_load

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "rxlocust.py"
CONFIG_FILE = "load-config.json"
_STOP_GRACE_S = 30.0
_WORKER_CONNECT_S = 60.0
EXIT_OK, EXIT_SLO_FAILED, EXIT_RUN_FAILED, EXIT_ABORTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class Launch:
    config: LoadConfig
    target: PlatformTarget  # the secrets stay in the children's environment
    workers: int = 0  # 0: one process; N: a master and N local workers
    role: str = "all"  # all | master (external workers) | worker (joins --master-host)
    master_host: str = "127.0.0.1"
    master_port: int | None = None
    expect_workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    status: str  # completed | aborted | interrupted | failed
    exit_code: int
    reason: str
    summary: dict[str, Any] | None


LiveCallback = Callable[[dict[str, Any]], None]


class _Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115  closed in reap()
        self.proc = subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def reap(self, timeout_s: float) -> int | None:
        """Wait up to timeout_s, then SIGTERM, then SIGKILL; returns the exit code."""
        for sig, wait_s in ((None, timeout_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                self.signal(sig)
            try:
                self.proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_env(launch: Launch, config_path: Path) -> dict[str, str]:
    env = {**os.environ, **launch.extra_env}
    env[CONFIG_ENV] = str(config_path)
    env[ANON_KEY_ENV] = launch.target.anon_key
    env[CREDENTIALS_ENV] = str(launch.target.credentials_csv)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _locust_argv(config: LoadConfig, *extra: str) -> list[str]:
    # users finish the request in flight when stopped, so the record holds every request the target saw
    stop_timeout = f"{math.ceil(config.request_timeout_s)}s"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "INFO", "--exit-code-on-error", "0",
            "--stop-timeout", stop_timeout]
    if config.tags:
        argv += ["--tags", *config.tags]
    return argv + list(extra)


def start_children(launch: Launch, run_dir: Path) -> tuple[_Child | None, list[_Child]]:
    config = launch.config
    config_path = run_dir / CONFIG_FILE
    config.save(config_path)
    env = _child_env(launch, config_path)
    if launch.role == "worker":
        port = launch.master_port or 5557
        return None, [_Child("worker-1", _locust_argv(config, "--worker", "--master-host", launch.master_host,
                                                      "--master-port", str(port)),
                              env, run_dir / "locust-worker-1.log")]
    if launch.role == "all" and launch.workers == 0:
        return _Child("locust", _locust_argv(config, "--headless"), env, run_dir / "locust.log"), []
    port = launch.master_port or free_port()
    expect = launch.workers if launch.role == "all" else launch.expect_workers
    bind = "127.0.0.1" if launch.role == "all" else "*"
    master = _Child("master", _locust_argv(config, "--headless", "--master", "--master-bind-host", bind,
                                           "--master-bind-port", str(port), "--expect-workers", str(expect),
                                           "--expect-workers-max-wait", str(int(_WORKER_CONNECT_S))),
                    env, run_dir / "locust-master.log")
    workers = [] if launch.role == "master" else [
        _Child(f"worker-{i + 1}", _locust_argv(config, "--worker", "--master-host", "127.0.0.1", "--master-port",
                                               str(port)), env, run_dir / f"locust-worker-{i + 1}.log")
        for i in range(launch.workers)
    ]
    return master, workers


class LoadRun:
    """One run's Locust processes: start, watch, stop on request, conclude. `run` drives it to the end; a drill
    can hold one in the background (`start`, later `stop` and `wait`)."""

    def __init__(self, launch: Launch, folder: RunFolder) -> None:
        self.launch = launch
        self.folder = folder
        self._master: _Child | None = None
        self._workers: list[_Child] = []
        self._deadline = 0.0
        self.interrupted = self.died = self.overdue = self.stopped = False
        self.lost_workers: list[str] = []

    def start(self) -> None:
        self.launch.config.run_dir = str(self.folder.path)
        self._master, self._workers = start_children(self.launch, self.folder.path)
        self.folder.update(processes={c.name: c.pid for c in self._children})
        self._deadline = time.monotonic() + self.launch.config.duration_s + _WORKER_CONNECT_S + 120

    @property
    def _children(self) -> list[_Child]:
        return ([self._master] if self._master else []) + self._workers

    @property
    def _leader(self) -> _Child:
        return self._master or self._workers[0]

    def running(self) -> bool:
        """Check the processes once (a worker that died stops the run); True while the leader runs."""
        for worker in self._workers:
            # exit code 0 is a worker the master told to quit; anything else died under the run
            if self._master is not None and not self.died and not worker.running() and worker.proc.returncode != 0:
                self.died = True
                self.lost_workers.append(worker.name)
                self.folder.event("worker_died", f"{worker.name} (pid {worker.pid}) exited with code "
                                                 f"{worker.proc.returncode} mid-run; stopping the run")
                self._master.signal(signal.SIGTERM)
        if time.monotonic() > self._deadline and not self.overdue:
            self.overdue = True
            self.folder.event("overdue", "the run outlived its duration by more than 3 minutes; stopping it")
            self._leader.signal(signal.SIGTERM)
        return self._leader.running()

    def stop(self, kind: str = "stopped", detail: str = "stopped on request") -> None:
        """Ask for a graceful stop (SIGTERM to the leader): users finish their request, the record is closed."""
        if kind == "interrupted":
            self.interrupted = True
        else:
            self.stopped = True
        self.folder.event(kind, detail)
        self._leader.signal(signal.SIGTERM)

    def wait(self, on_live: LiveCallback | None = None) -> Outcome:
        """Until the leader exits (Ctrl-C stops the run gracefully); then reap every child and conclude."""
        try:
            while self.running():
                _poll_live(self.folder.path, on_live)
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stop("interrupted", "Ctrl-C: stopping Locust; the record keeps what was measured")
        finally:
            codes = _reap_all(self._leader, self._children)
        _poll_live(self.folder.path, on_live)
        self.folder.update(process_exit_codes=codes)
        return _conclude(self.folder.path, self.launch, self, codes.get(self._leader.name))


def run(launch: Launch, folder: RunFolder, on_live: LiveCallback | None = None) -> Outcome:
    """Run to the end (or until stopped); run.json gets the processes and their fate (the caller closes it)."""
    load = LoadRun(launch, folder)
    load.start()
    return load.wait(on_live)


def _reap_all(leader: _Child, children: list[_Child]) -> dict[str, int | None]:
    """The leader first (it tells workers to quit), then the rest; a second Ctrl-C does not skip the cleanup."""
    codes: dict[str, int | None] = {}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        codes[leader.name] = leader.reap(_STOP_GRACE_S)
        for child in children:
            if child is not leader:
                codes[child.name] = child.reap(10.0)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return codes


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _poll_live(run_dir: Path, on_live: LiveCallback | None) -> None:
    if on_live is None:
        return
    try:
        live = json.loads((run_dir / "live.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    on_live(live)


def _record_validity(summary_path: Path, summary: dict[str, Any], load: LoadRun) -> None:
    """The master's judgement plus the workers this process saw die, in load.json and run.json."""
    validity = Validity.from_dict(summary.get("validity"))
    validity.merge(judge_load({}, lost_workers=load.lost_workers))
    summary["validity"] = validity.to_dict()
    write_json_atomic(summary_path, summary)
    load.folder.update(validity=summary["validity"])


def _conclude(run_dir: Path, launch: Launch, load: LoadRun, leader_code: int | None) -> Outcome:
    summary_path = run_dir / "load.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    if summary is not None and launch.role != "worker":
        _record_validity(summary_path, summary, load)
    if launch.role == "worker":
        ok = leader_code == 0
        return Outcome("completed" if ok else "failed", EXIT_OK if ok else EXIT_RUN_FAILED,
                       f"worker exited with code {leader_code}", None)
    if load.interrupted:
        return Outcome("interrupted", EXIT_INTERRUPTED, "interrupted by Ctrl-C", summary)
    if summary is None:
        return Outcome("failed", EXIT_RUN_FAILED, f"Locust exited with code {leader_code} before writing its summary; "
                       f"see the locust*.log files in {run_dir}", None)
    reason = summary.get("stop_reason", "stopped")
    if load.died:
        return Outcome("aborted", EXIT_ABORTED, "a worker died mid-run", summary)
    if load.overdue:
        return Outcome("aborted", EXIT_ABORTED, "the run overstayed its deadline", summary)
    if reason == "target_unreachable":
        return Outcome("aborted", EXIT_ABORTED, f"target unreachable: {summary.get('stop_detail', '')}", summary)
    if summary["validity"]["status"] == INVALID:
        why = "; ".join(summary["validity"]["reasons"])
        return Outcome("completed", ExitCode.INVALID, f"measurement invalid: {why}", summary)
    if load.stopped:
        return Outcome("completed", EXIT_OK, "stopped on request before the profile's end", summary)
    if reason in ("completed", "slo_broken"):
        detail = "capacity found: " + summary.get("stop_detail", "") if reason == "slo_broken" else "profile completed"
        return Outcome("completed", EXIT_OK, detail, summary)
    return Outcome("aborted", EXIT_ABORTED, f"Locust stopped early ({reason})", summary)
