"""Every job refuses through the one lifecycle: the same `allowed_jobs` check and message, exit 2, nothing made."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rxsuite.cli import main


@pytest.fixture()
def report_only(tmp_path: Path) -> Path:
    path = tmp_path / "reports-only.yaml"
    path.write_text(yaml.safe_dump({"name": "reports-only", "kind": "staging", "base_url": "http://127.0.0.1:9",
                                    "anon_key_env": "RX_UNSET_ANON_KEY", "allowed_jobs": ["report"]}))
    return path


@pytest.mark.parametrize(("job", "argv"), [("load", ["load"]), ("journeys", ["journeys"]),
                                           ("drill", ["drill", "--scenario", "db-primary-loss"]), ("run", ["run"]),
                                           ("monitor", ["monitor", "--count", "1"])])
def test_a_job_the_environment_does_not_allow_is_refused_alike(job: str, argv: list[str], report_only: Path,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main([*argv, "--env", str(report_only), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert f"{report_only}: allowed_jobs: {job!r} is not allowed in this environment (add {job} to allowed_jobs" in err
    assert not runs.exists()
