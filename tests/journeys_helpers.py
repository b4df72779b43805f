"""Running `rxsuite journeys` against a test sandbox, as CI would: a child process, a run folder, an exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rxcore.environment import PROJECT_ROOT

RUN_TIMEOUT_S = 300


@dataclass
class JourneysRun:
    code: int
    output: str
    run_dir: Path

    @property
    def document(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "journeys.json").read_text())

    @property
    def run_json(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "run.json").read_text())

    def journey(self, name: str) -> dict[str, Any]:
        return next(j for j in self.document["journeys"] if j["journey"] == name)


def run_journeys(sandbox: Any, runs_dir: Path, *options: str) -> JourneysRun:
    """`rxsuite journeys --env sandbox --base-url <edge>` with the test sandbox's key and accounts."""
    env = {**os.environ, "RXSUITE_SANDBOX_ANON_KEY": sandbox.anon_key,
           "RXSUITE_CREDENTIALS_CSV": str(sandbox.credentials_file)}
    argv = [sys.executable, "-m", "rxsuite.cli", "journeys", "--env", "sandbox", "--base-url", sandbox.edge_url,
            "--runs-dir", str(runs_dir), *options]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          check=False)
    folders = sorted(runs_dir.iterdir()) if runs_dir.exists() else []
    assert folders, f"no run folder was written; output:\n{done.stdout}\n{done.stderr}"
    return JourneysRun(done.returncode, done.stdout + done.stderr, folders[-1])
