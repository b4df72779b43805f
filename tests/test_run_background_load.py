"""The drill's background load calls the load job in-process: it starts, writes its run folder inside the drill's,
and stops gracefully on the drill's request, with no Locust process left."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chaos.load import BackgroundLoad
from chaos.scenario import LoadSpec
from tests.test_load_run import endpoint, env_file  # noqa: F401  (fixtures)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture()
def target_env(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("RX_TEST_ANON_KEY", "test-anon-key")
    monkeypatch.setenv("RX_TEST_CREDS", str(env_file.parent / "creds.csv"))
    return env_file


def test_background_load_runs_the_load_job_and_stops_on_request(target_env: Path, tmp_path: Path) -> None:
    load = BackgroundLoad(LoadSpec("smoke", 2, 60), target_env, tmp_path / "drill")
    started = load.start()
    try:
        assert started["outcome"] == "started", started
        (folder,) = (tmp_path / "drill" / "load").iterdir()
    finally:
        stopped = load.stop()
    run = json.loads((folder / "run.json").read_text())
    assert (stopped["outcome"], stopped["exit_code"], stopped["run_folder"]) == ("stopped", 130, str(folder))
    assert (run["job"], run["status"], run["exit_code"]) == ("load", "interrupted", 130)
    assert not any(_alive(pid) for pid in run["processes"].values())


def test_a_refused_background_load_says_why_and_starts_nothing(target_env: Path, tmp_path: Path) -> None:
    load = BackgroundLoad(LoadSpec("smoke", 500, 60), target_env, tmp_path / "drill")
    started = load.start()
    assert started["outcome"] == "failed" and "caps.max_users" in started["detail"]
    assert not (tmp_path / "drill" / "load").exists()
    assert load.stop() == {"outcome": "none"}
