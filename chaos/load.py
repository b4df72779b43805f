"""Background load during a drill: the load job's own `plan` and `execute` for the scenario's profile, users and
duration, its run folder inside the drill's. `execute` runs in a thread of the drill (Locust itself runs in the
load job's child processes, so gevent never patches the drill), and is stopped like a user would stop it (its
stop token: Locust finishes its requests and the record is closed) when the drill no longer needs it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos.scenario import LoadSpec
from locustfiles.job import LoadRequest, execute, plan
from rxcore.errors import RxError
from rxcore.jobs import QuietProgress, Result, StopToken

__all__ = ["BackgroundLoad"]

_STOP_WAIT_S = 60.0
_START_WAIT_S = 20.0


class _Started(QuietProgress):
    """Notes the moment the load job has made its run folder: the fault waits for that."""

    def __init__(self) -> None:
        self.folder = threading.Event()

    def note(self, kind: str, message: str) -> None:
        if kind == "run folder":
            self.folder.set()

    def live(self, figures: Mapping[str, Any]) -> None:
        return None


class BackgroundLoad:
    def __init__(self, spec: LoadSpec | None, env_file: Path, folder: Path, enabled: bool = True) -> None:
        self.spec = spec
        self.env_file = env_file
        self.folder = folder
        self.enabled = enabled
        self._stop = StopToken()
        self._thread: threading.Thread | None = None
        self._result: Result | None = None
        self._error: str | None = None

    def start(self) -> dict[str, Any]:
        if self.spec is None:
            return {"outcome": "none", "detail": "the scenario names no background load"}
        if not self.enabled:
            return {"outcome": "skipped", "detail": "background load switched off for this drill (--no-load)"}
        described = {"profile": self.spec.profile, "users": self.spec.users, "duration_s": self.spec.duration_s}
        request = LoadRequest(env=str(self.env_file), profile=self.spec.profile, users=self.spec.users,
                              duration=f"{self.spec.duration_s:g}s", runs_dir=self.folder / "load",
                              skip_checks=True)  # the drill's plan checked the target
        try:
            load_plan = plan(request)
        except RxError as exc:
            return {"outcome": "failed", "detail": f"the load job refused: {exc}", **described}
        started = _Started()
        self._thread = threading.Thread(target=self._run, args=(load_plan, started), name="drill-background-load",
                                        daemon=True)
        self._thread.start()
        if not started.folder.wait(_START_WAIT_S):
            return {"outcome": "failed", "detail": f"the load job did not start: {self._error or 'no run folder'}",
                    **described}
        return {"outcome": "started", "detail": f"load job --profile {self.spec.profile} --users {self.spec.users} "
                f"for {self.spec.duration_s:g} s (run folder in load/)", **described}

    def _run(self, load_plan: Any, progress: _Started) -> None:
        try:
            self._result = execute(load_plan, progress, self._stop)
        except Exception as exc:  # reported by stop(); the drill goes on
            self._error = repr(exc)
        finally:
            progress.folder.set()

    def stop(self) -> dict[str, Any]:
        """Stop the load run if still going; its own verdict and files stay in load/."""
        if self._thread is None:
            return {"outcome": "none"}
        if self._thread.is_alive():
            self._stop.request(signal.SIGINT)
        self._thread.join(_STOP_WAIT_S)
        if self._thread.is_alive():
            self._stop.request(signal.SIGINT)  # the second request forces it: the Locust processes are killed
            self._thread.join(10.0)
        result = self._result
        return {"outcome": "stopped", "exit_code": None if result is None else int(result.exit_code),
                "run_folder": None if result is None or result.run_dir is None else str(result.run_dir),
                **({"error": self._error} if self._error else {})}
