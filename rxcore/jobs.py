"""The one job lifecycle: `plan(request)` refuses before anything is touched, `execute(plan, progress, stop)`
returns a `Result` (run folder, verdict, exit code).

The CLI, `rxsuite run` and the drill's background load call these functions in-process; only this module knows
which signals stop a job (SIGINT, SIGTERM, SIGHUP alike), what a second signal does (forces the stop) and how a
stopped run is recorded (`interrupted` 130 for SIGINT, `terminated` 143 for SIGTERM and SIGHUP).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from rxcore.environment import PROJECT_ROOT, Environment
from rxcore.errors import ConfigError, RxError
from rxcore.exitcodes import ExitCode

__all__ = ["DEFAULT_RUNS_DIR", "STOP_SIGNALS", "Progress", "QuietProgress", "Result", "StopToken", "Stopped",
           "check_allowed", "refuse_production", "stop_on_signals"]

DEFAULT_RUNS_DIR = PROJECT_ROOT / "runs"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Progress(Protocol):
    """What a job tells the one live display: events (one line each) and live figures (a load run's counters)."""

    def note(self, kind: str, message: str) -> None: ...

    def live(self, figures: Mapping[str, Any]) -> None: ...


class QuietProgress:
    """A progress sink that shows nothing: for jobs called where no one watches (tests, a background load)."""

    def note(self, kind: str, message: str) -> None:
        return None

    def live(self, figures: Mapping[str, Any]) -> None:
        return None


@dataclass
class Result:
    """What every job returns: where its files are, what it judged, and the exit code from `ExitCode`."""

    exit_code: ExitCode
    status: str  # completed | failed | aborted | interrupted | terminated
    run_dir: Path | None = None
    verdict: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by the first stop signal of a job that does not poll its `StopToken`; a
    KeyboardInterrupt, so every cleanup written for Ctrl-C runs for SIGTERM and SIGHUP too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopToken(threading.Event):
    """Set by the first stop signal (or by a caller, e.g. `rxsuite run` ending a stage); a `threading.Event`, so
    code that waits on an event (the drill's method) takes it as is. A second signal forces the stop: the
    callbacks a job registered with `on_force` run (they kill what a graceful stop is still waiting for)."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None
        self.forced = False
        self._on_force: list[Callable[[], None]] = []

    def request(self, signum: int = signal.SIGINT) -> None:
        if not self.is_set():
            self.signum = signum
            self.set()
            return
        self.forced = True
        for callback in list(self._on_force):
            callback()

    def on_force(self, callback: Callable[[], None]) -> None:
        self._on_force.append(callback)

    @property
    def status(self) -> str:
        """How a run this token stopped ended, in run.json's words."""
        return "interrupted" if self.signum in (None, signal.SIGINT) else "terminated"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.status == "interrupted" else ExitCode.TERMINATED

    def describe(self) -> str:
        name = signal.Signals(self.signum).name if self.signum is not None else "stop requested"
        return f"{'interrupted' if self.status == 'interrupted' else 'terminated'} by {name}"


@contextmanager
def stop_on_signals(stop: StopToken, raise_first: bool,
                    on_signal: Callable[[str], None] | None = None) -> Iterator[StopToken]:
    """SIGINT, SIGTERM and SIGHUP request the stop. `raise_first`: the first one also raises `Stopped` (for a job
    that blocks without polling); later ones never raise, so the cleanup they would cut short always finishes."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.request(signum)
        if on_signal is not None:
            name = signal.Signals(signum).name
            on_signal(f"{name}: stopping; a second signal forces it" if first else f"{name}: forcing the stop")
        if first and raise_first:
            raise Stopped(signum)

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def check_allowed(env: Environment, job: str) -> None:
    """The one `allowed_jobs` check: an environment that lists its jobs runs only those."""
    if env.allowed_jobs and job not in env.allowed_jobs:
        raise ConfigError(str(env.file), "allowed_jobs", f"{job!r} is not allowed in this environment",
                          f"add {job} to allowed_jobs if the environment's owner agrees")


def refuse_production(env: Environment, job: str, opted_in: bool, how: str) -> None:
    """The one production guard: a job that can change or load the platform needs the caller's explicit opt-in."""
    if env.kind == "production" and not opted_in:
        raise RxError(f"{env.file}: kind is production: {job} there needs {how}")

