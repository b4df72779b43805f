"""A load run whose requests were mostly the test's own errors (4xx) gives no verdict and exits 2, not 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from rxcore.environment import PROJECT_ROOT
from rxcore.exitcodes import ExitCode
from slo.records import too_many_test_errors
from tests.local_http import serving


class _NotFound(BaseHTTPRequestHandler):
    """Every request is a 404: what a load run with a wrong path or base_url gets."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def not_found() -> Iterator[str]:
    with serving(_NotFound) as url:
        yield url


def test_most_requests_4xx_is_a_test_error_31_of_34() -> None:
    problem = too_many_test_errors({"ok": 3, "http_4xx": 31})
    assert problem is not None and problem.startswith("31 of 34 requests failed with 4xx")


@pytest.mark.parametrize("outcomes", [{"ok": 31, "http_4xx": 3}, {"ok": 17, "http_4xx": 17}, {}])
def test_a_minority_of_4xx_still_gets_a_verdict(outcomes: dict[str, int]) -> None:
    assert too_many_test_errors(outcomes) is None


def test_a_run_of_404s_exits_2_with_no_verdict(tmp_path: Path, not_found: str) -> None:
    (tmp_path / "creds.csv").write_text("email,password,role,user_id\n")
    env_file = tmp_path / "wrong-path.yaml"
    env_file.write_text(yaml.safe_dump({
        "name": "wrong-path", "kind": "staging", "base_url": not_found, "anon_key_env": "RX_TEST_ANON_KEY",
        "credentials_csv_env": "RX_TEST_CREDS", "allowed_jobs": ["load"],
        "users": {"probe": {"weight": 1, "wait": [0.05, 0.1]}, "patient": {"weight": 0}, "doctor": {"weight": 0},
                  "pharmacist": {"weight": 0}, "realtime": {"weight": 0}},
    }))
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "rxsuite.cli", "load", "--env", str(env_file), "--runs-dir", str(runs), "--profile",
         "smoke", "--duration", "3s", "--users", "2", "--abort-after", "0s"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "RX_TEST_ANON_KEY": "test-anon-key", "RX_TEST_CREDS": str(tmp_path / "creds.csv")})
    run = json.loads(next(runs.glob("*/run.json")).read_text())
    assert done.returncode == ExitCode.ERROR, done.stdout + done.stderr
    assert "requests failed with 4xx, the test's own errors" in done.stderr
    assert (run["exit_code"], run["slo_verdict"]) == (ExitCode.ERROR, "no-verdict")
