"""Run folders: naming, run.json contents, redaction, atomic incremental updates."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from rxcore.files import write_json_atomic, write_text_atomic
from rxcore.redact import REDACTED, redact
from rxcore.runfolder import RunFolder


def _run_json(folder: RunFolder) -> dict:
    return json.loads((folder.path / "run.json").read_text())


def test_create_names_the_folder_by_utc_time_job_and_environment(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "runs", "load", "sandbox")
    assert re.fullmatch(r"\d{8}T\d{6}Z-load-sandbox", folder.path.name)
    assert folder.path.parent == tmp_path / "runs"


def test_two_runs_in_the_same_second_get_separate_folders(tmp_path: Path) -> None:
    first = RunFolder.create(tmp_path, "load", "sandbox")
    second = RunFolder.create(tmp_path, "load", "sandbox")
    assert first.path != second.path
    assert second.path.name.startswith(first.path.name)


def test_first_run_json_says_running_with_job_version_and_parameters(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "load", "staging", environment={"name": "staging", "kind": "staging"},
                              parameters={"users": 5})
    data = _run_json(folder)
    assert data["job"] == "load"
    assert data["status"] == "running"
    assert data["exit_code"] is None and data["ended_at"] is None
    assert data["parameters"] == {"users": 5}
    assert data["environment"]["kind"] == "staging"
    assert data["suite_version"]
    assert "git_commit" in data


def test_secrets_are_redacted_but_variable_names_are_kept(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "load", "staging",
                              environment={"anon_key_env": "RX_ANON", "anon_key": "eyJhbGciOi",
                                           "db": {"password": "hunter2"}},
                              parameters={"access_token": "abc", "users": 3})
    text = (folder.path / "run.json").read_text()
    assert "eyJhbGciOi" not in text and "hunter2" not in text and '"abc"' not in text
    data = json.loads(text)
    assert data["environment"]["anon_key_env"] == "RX_ANON"
    assert data["environment"]["db"]["password"] == REDACTED
    assert data["parameters"] == {"access_token": REDACTED, "users": 3}


def test_redact_walks_lists() -> None:
    assert redact({"items": [{"token": "t"}, {"name": "n"}]}) == {"items": [{"token": REDACTED}, {"name": "n"}]}


def test_update_and_event_rewrite_the_file_without_leaving_temporary_files(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "load", "sandbox")
    folder.update(processes={"master": 123})
    folder.event("worker_died", "worker-1 exited with code -9")
    data = _run_json(folder)
    assert data["processes"] == {"master": 123}
    assert [e["kind"] for e in data["events"]] == ["worker_died"]
    assert sorted(p.name for p in folder.path.iterdir()) == ["run.json"]


def test_finish_records_status_exit_code_reason_and_end(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "load", "sandbox")
    folder.finish("aborted", 3, "target unreachable", mode="arrival")
    data = _run_json(folder)
    assert (data["status"], data["exit_code"], data["reason"], data["mode"]) == (
        "aborted", 3, "target unreachable", "arrival")
    assert data["ended_at"] >= data["started_at"]


def test_open_reads_an_existing_folder(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "drill", "sandbox")
    again = RunFolder.open(folder.path)
    assert again.data["job"] == "drill"


def test_the_one_writer_replaces_a_file_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "credentials.csv"
    write_text_atomic(path, "old\n")
    write_text_atomic(path, "email,password\r\na,b\r\n", mode=0o600)
    assert path.read_bytes() == b"email,password\r\na,b\r\n"  # newlines kept as given (CSV's \r\n)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "slo.json"
    write_json_atomic(path, {"verdict": "pass"})
    with pytest.raises(ValueError, match="NaN or an infinity"):
        write_json_atomic(path, {"measured": float("nan")})
    with pytest.raises(TypeError):
        write_text_atomic(path, 42)  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == {"verdict": "pass"}
    assert [p.name for p in tmp_path.iterdir()] == ["slo.json"]
