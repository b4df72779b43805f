"""`rxsuite sandbox reset`: the only way to wipe a sandbox, and never without a confirmation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rxcore.environment import PROJECT_ROOT


@pytest.fixture
def stopped_sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """An environment file and the state folder of a stopped sandbox holding a file that stands for its data."""
    state_dir = tmp_path / "state"
    (state_dir / "pg").mkdir(parents=True)
    (state_dir / "pg" / "data").write_text("rows")
    (state_dir / "state.json").write_text(json.dumps({"status": "down", "up_after_s": 1.0, "parts": {}}))
    env_file = tmp_path / "env.yaml"
    env_file.write_text(yaml.safe_dump({"kind": "sandbox", "base_url": "http://127.0.0.1:9",
                                        "sandbox": {"state_dir": str(state_dir)}}))
    return env_file, state_dir


def _reset(env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rxsuite.cli", "sandbox", "reset", "--env", str(env_file), *extra],
                          cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def test_reset_without_yes_and_no_terminal_refuses_and_keeps_the_data(stopped_sandbox: tuple[Path, Path]) -> None:
    env_file, state_dir = stopped_sandbox
    result = _reset(env_file)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: refusing to delete {state_dir} (every row, key and log of the sandbox) "
                                     "without confirmation: run `rxsuite sandbox reset --yes`")
    assert (state_dir / "pg" / "data").read_text() == "rows"


def test_reset_with_yes_deletes_the_state_folder(stopped_sandbox: tuple[Path, Path]) -> None:
    env_file, state_dir = stopped_sandbox
    result = _reset(env_file, "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"stopped: nothing was running; deleted {state_dir}"
    assert not state_dir.exists()
