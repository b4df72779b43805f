"""`rxsuite env check`: every check passes against the sandbox, and each broken target fails the check that names
its problem. Ground truths: the sandbox as it is (passes), a key the test makes wrong, a table the test names that
does not exist, and a fake platform the test writes to answer a cross-patient read with rows (RLS off)."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from chaos.sandbox_env import write_sandbox_environment
from preflight.checks import CHECKS, CheckedTarget, Preflight
from preflight.job import PreflightRequest, execute, plan, quick_check
from preflight.schema import USED_COLUMNS
from rxcore.credentials import Credential
from rxcore.environment import PROJECT_ROOT, load_environment
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxsuite.cli import main
from sandbox.jsonhttp import JsonHandler
from tests.local_http import serving


@pytest.fixture
def env_file(sandbox, tmp_path: Path) -> Path:
    return write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")


def _edit(path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _checks(env_file: Path) -> dict[str, dict[str, str]]:
    result = execute(plan(PreflightRequest(str(env_file))))
    return {c["name"]: c for c in result.details["checks"]}


def test_every_check_passes_against_the_sandbox(env_file: Path, sandbox) -> None:
    result = execute(plan(PreflightRequest(str(env_file))))
    statuses = {c["name"]: c["status"] for c in result.details["checks"]}
    assert statuses == dict.fromkeys(CHECKS, "pass")
    assert result.exit_code == ExitCode.OK
    signed_in = next(c for c in result.details["checks"] if c["name"] == "sign_in")["detail"]
    assert signed_in.startswith(f"{len(sandbox.credentials)} account(s) signed in")


def test_a_wrong_anon_key_fails_the_key_check(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXSUITE_TEST_WRONG_ANON_KEY", "not-the-key")
    checks = _checks(_edit(env_file, anon_key_env="RXSUITE_TEST_WRONG_ANON_KEY"))
    assert checks["anon_key"]["status"] == "fail"
    assert checks["anon_key"]["detail"].startswith("the anon key is refused: HTTP 401")
    assert (checks["sign_in"]["status"], checks["tables"]["status"]) == ("skip", "skip")


def test_a_missing_table_fails_the_tables_check(env_file: Path) -> None:
    users = yaml.safe_load(env_file.read_text())["users"]
    users["probe"] = {"weight": 0, "path": "/rest/v1/no_such_table?select=id&limit=1"}
    checks = _checks(_edit(env_file, users=users))
    assert checks["tables"]["status"] == "fail"
    assert checks["tables"]["detail"].startswith("users.probe.path: GET /rest/v1/no_such_table: HTTP 404")
    assert "no_such_table" in checks["tables"]["detail"].split("HTTP 404", 1)[1]


def test_an_account_with_the_wrong_role_fails_the_sign_in_check(env_file: Path, sandbox, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    patient = next(row for row in sandbox.credentials if row["role"] == "patient")
    csv = tmp_path / "users.csv"
    csv.write_text(f"email,password,role\n{patient['email']},{patient['password']},doctor\n")
    monkeypatch.setenv("RXSUITE_CREDENTIALS_CSV", str(csv))
    checks = _checks(env_file)
    assert checks["sign_in"]["detail"] == f"1 of 1 accounts: {patient['email']} claims doctor but signs in as patient"
    assert patient["password"] not in json.dumps(checks)


def test_cli_json_and_exit_codes(env_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "check", "--env", str(env_file), "--json"]) == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and [c["name"] for c in report["checks"]] == list(CHECKS)
    assert main(["env", "check", "--env", "no-such-environment"]) == ExitCode.ERROR
    assert "no such environment file" in capsys.readouterr().err


def test_quick_check_names_a_wrong_key(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXSUITE_TEST_WRONG_ANON_KEY", "not-the-key")
    env = load_environment(str(_edit(env_file, anon_key_env="RXSUITE_TEST_WRONG_ANON_KEY")))
    with pytest.raises(RxError, match=r"pre-flight check failed: anon_key: the anon key is refused"):
        quick_check(env)


# ----- a fake platform whose row-level security is off -------------------------------------------------------
def _token(user_id: str, role: str) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'sub': user_id, 'app_metadata': {'rx_role': role}})}.sig"


class _NoRlsPlatform(JsonHandler):
    """Signs in anyone (user id from the e-mail) and answers every prescriptions read with the filtered patient's
    rows, whoever asks: a project whose table has no row-level security."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/rest/v1/prescriptions":
            owner = parse_qs(url.query).get("patient_id", ["eq.anyone"])[0].removeprefix("eq.")
            self._reply(200, [{"id": "rx-1", "patient_id": owner}])
        else:
            self._reply(200, [])

    def do_POST(self) -> None:
        email = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["email"]
        user_id = email.split("@")[0]
        self._reply(200, {"access_token": _token(user_id, "patient"), "refresh_token": "r",
                         "user": {"id": user_id, "app_metadata": {"rx_role": "patient"}}})



class _SkewedLimitedPlatform(_NoRlsPlatform):
    """Its clock 30 s ahead (Date header), and a rate limit that answers 429 from the 4th medications read on."""

    medication_reads = 0

    def do_GET(self) -> None:
        if self.path.startswith("/rest/v1/medications"):
            type(self).medication_reads += 1
            if type(self).medication_reads > 4:
                self._reply(429, {"message": "rate limit"})
                return
        super().do_GET()

    def date_time_string(self, timestamp: float | None = None) -> str:
        return super().date_time_string(time.time() + 30)


@pytest.fixture
def no_rls_platform() -> Iterator[str]:
    with serving(_NoRlsPlatform) as url:
        yield url


@pytest.fixture
def skewed_limited_platform() -> Iterator[str]:
    _SkewedLimitedPlatform.medication_reads = 0
    with serving(_SkewedLimitedPlatform) as url:
        yield url


def test_rls_off_fails_the_rls_check(no_rls_platform: str) -> None:
    accounts = tuple(Credential(f"{name}@synthetic.rx.test", "pw", "patient") for name in ("alice", "bob"))
    target = CheckedTarget(no_rls_platform, "anon", accounts, "staging", rate_probe_requests=0)
    with httpx.Client(base_url=no_rls_platform, timeout=5) as client:
        outcomes = {o.name: o for o in Preflight(target, client).run(CHECKS)}
    assert outcomes["rls"].status == "fail"
    assert outcomes["rls"].detail == ("row-level security is off: patient alice@synthetic.rx.test read 1 "
                                      "prescription(s) of patient bob@synthetic.rx.test (enable RLS on prescriptions)")


def test_clock_skew_and_rate_limit_are_measured(skewed_limited_platform: str) -> None:
    accounts = (Credential("alice@synthetic.rx.test", "pw", "patient"),)
    target = CheckedTarget(skewed_limited_platform, "anon", accounts, "staging", rate_probe_requests=10,
                           planned_rate=50)
    with httpx.Client(base_url=skewed_limited_platform, timeout=5) as client:
        outcomes = {o.name: o for o in Preflight(target, client).run(CHECKS)}
    assert outcomes["clock_skew"].status == "fail"
    measured = re.match(r"this clock is ([-+][0-9.]+) s", outcomes["clock_skew"].detail)
    assert measured is not None, outcomes["clock_skew"].detail
    skew = float(measured.group(1))
    assert -31.0 <= skew <= -29.0
    assert outcomes["rate_limit"].status == "fail"
    # the anon key and tables checks made 2 of the 4 reads allowed: the probe's 3rd read is the first refused
    assert outcomes["rate_limit"].detail.startswith("HTTP 429 after 3 of 10 back-to-back reads")
    assert "(planned 50/s)" in outcomes["rate_limit"].detail


# ----- the tables list agrees with the user models ------------------------------------------------------------
def test_the_tables_list_covers_what_the_user_models_name() -> None:
    source = (PROJECT_ROOT / "locustfiles" / "users.py").read_text()
    named: dict[str, set[str]] = {}
    for table, query in re.findall(r"/rest/v1/(\w+)\?([^\"]*)", source):
        columns = named.setdefault(table, set())
        for key, value in (p.split("=", 1) for p in query.split("&") if "=" in p):
            if key == "select":
                columns.update(c for c in value.split(",") if c != "*")
            elif key == "order":
                columns.add(value.split(".")[0])
            elif key not in ("limit", "offset"):
                columns.add(key)
    assert named, "users.py names no /rest/v1 table: the pattern above is out of date"
    for table, columns in named.items():
        assert columns <= set(USED_COLUMNS[table]), (table, columns - set(USED_COLUMNS[table]))


@pytest.mark.parametrize("job", ["load", "journeys", "drill"])
def test_jobs_run_the_quick_checks_before_anything_starts(job: str, env_file: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RXSUITE_TEST_WRONG_ANON_KEY", "not-the-key")
    env = _edit(env_file, anon_key_env="RXSUITE_TEST_WRONG_ANON_KEY")
    extra = ["--scenario", "region-outage"] if job == "drill" else []
    code = main([job, "--env", str(env), "--runs-dir", str(tmp_path / "runs"), *extra])
    assert code == ExitCode.ERROR
    assert "pre-flight check failed: anon_key: the anon key is refused: HTTP 401" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
