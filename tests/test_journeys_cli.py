"""`rxsuite journeys` refusals: each names the problem and the fix, exits 2 and starts no browser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rxcore.environment import PROJECT_ROOT
from rxsuite.cli import main


def _environment(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "environments" / "sandbox.yaml").read_text())
    raw["sandbox"]["state_dir"] = str(tmp_path / "no-sandbox-here")
    raw.update(changes)
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_sandbox_not_running_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["journeys", "--env", str(_environment(tmp_path)), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "rxsuite sandbox up" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_full_journeys_are_refused_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    credentials = tmp_path / "accounts.csv"
    credentials.write_text("email,password,role,user_id\n")
    monkeypatch.setenv("RX_PROD_ANON", "anon")
    monkeypatch.setenv("RXSUITE_CREDENTIALS_CSV", str(credentials))
    env = _environment(tmp_path, kind="production", anon_key_env="RX_PROD_ANON", sandbox=None,
                       base_url="https://rx.example.test")
    assert main(["journeys", "--env", str(env), "--tag", "full", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "only --tag smoke" in capsys.readouterr().err


def test_missing_anon_key_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RX_STAGING_ANON", raising=False)
    env = _environment(tmp_path, kind="staging", anon_key_env="RX_STAGING_ANON", sandbox=None,
                       base_url="https://staging.example.test")
    assert main(["journeys", "--env", str(env), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "RX_STAGING_ANON" in capsys.readouterr().err
