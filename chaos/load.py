"""Background load during a drill: `rxsuite load` (the load job's own command, Locust underneath) run as a child
process for the scenario's profile, users and duration, its run folder inside the drill's. It is stopped like a
user would (SIGINT: the load job finishes its files) when the drill no longer needs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chaos.scenario import LoadSpec
from rxcore.environment import PROJECT_ROOT

_STOP_WAIT_S = 20.0
_START_WAIT_S = 20.0


class BackgroundLoad:
    def __init__(self, spec: LoadSpec | None, env_file: Path, folder: Path, enabled: bool = True) -> None:
        self.spec = spec
        self.env_file = env_file
        self.folder = folder
        self.enabled = enabled
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, Any]:
        if self.spec is None:
            return {"outcome": "none", "detail": "the scenario names no background load"}
        if not self.enabled:
            return {"outcome": "skipped", "detail": "background load switched off for this drill (--no-load)"}
        argv = [sys.executable, "-m", "rxsuite.cli", "load", "--env", str(self.env_file), "--profile",
                self.spec.profile, "--users", str(self.spec.users), "--duration", f"{self.spec.duration_s:g}s",
                "--runs-dir", str(self.folder / "load")]
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "load.log", "wb") as log:
            self._child = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
        described = {"profile": self.spec.profile, "users": self.spec.users, "duration_s": self.spec.duration_s}
        if not self._running_within(_START_WAIT_S):
            tail = (self.folder / "load.log").read_text(errors="replace").strip().splitlines()[-1:]
            return {"outcome": "failed", "detail": f"rxsuite load did not start: {' '.join(tail) or 'no output'}",
                    **described}
        return {"outcome": "started", "detail": f"rxsuite load --profile {self.spec.profile} --users "
                f"{self.spec.users} for {self.spec.duration_s:g} s (pid {self._child.pid}, log load.log)",
                **described}

    def _running_within(self, timeout_s: float) -> bool:
        """The load run counts as started once it has written its run folder; the fault waits for that."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any((self.folder / "load").glob("*/run.json")):
                return True
            if self._child is None or self._child.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self) -> dict[str, Any]:
        """Stop the load run if still going; its own verdict and files stay in load/."""
        if self._child is None:
            return {"outcome": "none"}
        if self._child.poll() is None:
            self._child.send_signal(signal.SIGINT)
            try:
                self._child.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait(timeout=5)
        runs = sorted((self.folder / "load").glob("*/run.json"))
        return {"outcome": "stopped", "exit_code": self._child.returncode,
                "run_folder": str(runs[-1].parent) if runs else None}
