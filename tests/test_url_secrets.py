"""A password inside a target URL (issue 19 point 6): refused where the URL enters the suite, without echoing it;
and masked by the one redactor wherever a URL reaches a run folder, JUnit XML or a trace anyway."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from journeys.redact import Redactor
from rxcore.errors import ConfigError
from rxcore.runfolder import RunFolder
from rxcore.urls import refuse_url_credentials
from rxsuite.cli import main

PASSWORD = "PLANTEDurlPass93"
URL = f"https://ops:{PASSWORD}@staging.example.test"


def _environment(tmp_path: Path, base_url: str) -> Path:
    raw = {"name": "staging", "kind": "staging", "base_url": base_url, "anon_key_env": "RX_STAGING_ANON_KEY",
           "allowed_jobs": ["load", "journeys"]}
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("job", ["load", "journeys"])
def test_environment_base_url_with_a_password_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], job: str
) -> None:
    env = _environment(tmp_path, URL)
    assert main([job, "--env", str(env), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"{env}: base_url: the URL carries credentials" in err
    assert "anon_key_env" in err
    assert PASSWORD not in err
    assert not (tmp_path / "runs").exists()


def test_base_url_option_with_a_password_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _environment(tmp_path, "https://staging.example.test")
    code = main(["journeys", "--env", str(env), "--base-url", URL, "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert "command line: --base-url: the URL carries credentials" in err
    assert PASSWORD not in err


@pytest.mark.parametrize("url", ["https://staging.example.test", "http://127.0.0.1:18080/path?email=a@b", "x"])
def test_urls_without_userinfo_pass(url: str) -> None:
    refuse_url_credentials(url, "f", "base_url")


@pytest.mark.parametrize("url", [URL, "https://token@host", "http://:pw@host:80"])
def test_urls_with_userinfo_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        refuse_url_credentials(url, "f", "base_url")


def test_run_json_masks_url_userinfo(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "load", "staging", environment={"name": "staging", "base_url": URL},
                              parameters={"note": f"target {URL}/rest/v1"})
    text = (folder.path / "run.json").read_text()
    assert PASSWORD not in text
    run = json.loads(text)
    assert run["environment"]["base_url"] == "https://[redacted]@staging.example.test"
    assert run["parameters"]["note"] == "target https://[redacted]@staging.example.test/rest/v1"


def test_junit_and_trace_mask_url_userinfo_without_knowing_the_password(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(f'<testcase><failure message="GET {URL}/dashboard failed"/></testcase>')
    trace = tmp_path / "trace.zip"
    with zipfile.ZipFile(trace, "w") as out:
        out.writestr("trace.network", json.dumps({"url": f"{URL}/sign-in"}))
    redactor = Redactor([], environ={})
    redactor.file(junit)
    redactor.zip(trace)
    with zipfile.ZipFile(trace) as result:
        inside = result.read("trace.network").decode()
    assert PASSWORD not in junit.read_text() and PASSWORD not in inside
    assert "https://[redacted]@staging.example.test/sign-in" in inside
