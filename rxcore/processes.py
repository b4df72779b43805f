"""The one child-process launcher. Two kinds of children, both in their own session (a terminal's Ctrl-C reaches
only the parent, which decides how to stop them), output to a log file, stopped by pid only:

- `spawn`: detached parts (the sandbox's), remembered by pid and start time, stopped later by another process
  perhaps. The start time (from /proc) guards against pid reuse: a pid whose start time differs is not ours and
  is never signalled.
- `start_child`: a child this process waits for and whose exit code it reads (a journeys attempt); `stop_child`
  signals it, waits, then kills it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    start_ticks: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_json(cls, raw: Mapping[str, int]) -> ProcessRef:
        return cls(pid=int(raw["pid"]), start_ticks=int(raw["start_ticks"]))


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def ref_for(pid: int) -> ProcessRef | None:
    ticks = start_ticks(pid)
    return None if ticks is None else ProcessRef(pid, ticks)


def is_running(ref: ProcessRef) -> bool:
    return start_ticks(ref.pid) == ref.start_ticks


def start_child(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a process in its own session, logging to a file; the caller waits for it or stops it (`stop_child`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
            preexec_fn=_unblock_signals,
        )


def stop_child(child: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace_s: float = 5.0) -> int:
    """Send `sig`, wait up to `grace_s`, then SIGKILL; returns the exit code. The child never outlives this call."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> ProcessRef:
    """Start a detached process (own session, so Ctrl-C in the terminal does not reach it) logging to a file."""
    proc = start_child(argv, log_path, env, cwd)
    ref = ref_for(proc.pid)
    if ref is None:
        raise RuntimeError(f"{argv[0]} exited at once; see {log_path}")
    return ref


def _unblock_signals() -> None:
    """The child must not inherit a signal mask its parent set while recording it (see signals_deferred)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, so a process is never started without being recorded."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop(ref: ProcessRef, timeout_s: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Signal the process, wait, then SIGKILL it if it is still running. Does nothing to a reused pid."""
    if not is_running(ref):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(ref.pid, sig)
    if _wait_gone(ref, timeout_s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(ref.pid, signal.SIGKILL)
    _wait_gone(ref, 5.0)


def _wait_gone(ref: ProcessRef, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(ref.pid)
        if not is_running(ref):
            return True
        time.sleep(0.02)
    return not is_running(ref)


def _reap(pid: int) -> None:
    """Collect our own exited children so they do not linger as zombies."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05,
               what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    if not predicate():
        raise TimeoutError(f"{what} not reached within {timeout_s:g} s")
