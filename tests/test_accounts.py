"""`rxsuite accounts`: synthetic users through GoTrue's admin API, end to end against the sandbox's admin subset.

Ground truth: the platform itself (a created account signs in with the CSV's password and carries the CSV's role;
a deleted one is refused), and the admin API's own answers to calls without the service key.
"""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
import yaml

from accounts.job import AccountsRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.credentials import read_credentials
from rxcore.errors import RxError
from rxcore.exitcodes import ExitCode
from rxcore.supabase_api import SignInError, account_role, sign_in
from rxsuite.cli import main


@pytest.fixture
def env_file(sandbox, tmp_path: Path) -> Path:
    return write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.edge_url, timeout=10) as http:
        yield http


def _create(env_file: Path, csv: Path, count: int, roles: str = "patient,doctor,pharmacist") -> None:
    result = execute(plan(AccountsRequest("create", str(env_file), count=count, roles=roles, csv=csv)))
    assert result.exit_code == ExitCode.OK, result.reason


def test_create_sign_in_delete_round_trip(sandbox, env_file: Path, client: httpx.Client, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    _create(env_file, csv, 5)
    rows = read_credentials(csv)
    assert [r.role for r in rows] == ["patient", "doctor", "pharmacist", "patient", "doctor"]
    assert stat.S_IMODE(csv.stat().st_mode) == 0o600
    for row in rows:
        session = sign_in(client, sandbox.anon_key, row.email, row.password)
        assert session["user"]["id"] == row.user_id
        assert account_role(session) == row.role
    result = execute(plan(AccountsRequest("delete", str(env_file), csv=csv)))
    assert (result.exit_code, result.details["deleted"], result.details["already_gone"]) == (ExitCode.OK, 5, 0)
    assert not csv.exists()
    for row in rows:
        with pytest.raises(SignInError) as refused:
            sign_in(client, sandbox.anon_key, row.email, row.password)
        assert refused.value.status == 400


def test_emails_are_under_the_synthetic_domain_only(env_file: Path, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    _create(env_file, csv, 2, roles="doctor")
    try:
        assert {r.email.rpartition("@")[2] for r in read_credentials(csv)} == {"synthetic.rx.test"}
    finally:
        execute(plan(AccountsRequest("delete", str(env_file), csv=csv)))


def test_delete_refuses_a_csv_with_an_account_outside_the_domain(env_file: Path, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("email,password,role,user_id\n"
                   "someone@real-clinic.example,pw,patient,00000000-0000-0000-0000-000000000001\n")
    with pytest.raises(RxError, match=r"users.csv:2: someone@real-clinic.example is not under the synthetic domain"):
        plan(AccountsRequest("delete", str(env_file), csv=csv))


def test_create_refused_without_a_declared_synthetic_domain(env_file: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(env_file.read_text())
    del raw["synthetic_domain"]
    env_file.write_text(yaml.safe_dump(raw))
    with pytest.raises(RxError, match="synthetic_domain: no synthetic e-mail domain is declared"):
        plan(AccountsRequest("create", str(env_file), count=1, csv=tmp_path / "users.csv"))


def test_create_never_overwrites_without_force(env_file: Path, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "users.csv"
    csv.write_text("kept\n")
    code = main(["accounts", "create", "--env", str(env_file), "--count", "1", "--csv", str(csv)])
    assert code == ExitCode.ERROR
    assert "already exists" in capsys.readouterr().err
    assert csv.read_text() == "kept\n"


def test_admin_api_needs_the_service_key(sandbox, client: httpx.Client) -> None:
    body = {"email": "x@synthetic.rx.test", "password": "secret-pw", "app_metadata": {"rx_role": "patient"}}
    response = client.post("/auth/v1/admin/users", json=body,
                           headers={"apikey": sandbox.anon_key, "Authorization": f"Bearer {sandbox.anon_key}"})
    assert response.status_code == 403
    assert response.json() == {"code": 403, "error_code": "not_admin", "msg": "User not allowed"}


def test_admin_api_refuses_a_second_user_with_the_same_email(env_file: Path, sandbox, client: httpx.Client,
                                                            tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    _create(env_file, csv, 1)
    row = read_credentials(csv)[0]
    try:
        key = sandbox.service_key
        body = {"email": row.email, "password": "another-pw", "app_metadata": {"rx_role": "doctor"}}
        response = client.post("/auth/v1/admin/users", json=body,
                               headers={"apikey": key, "Authorization": f"Bearer {key}"})
        assert (response.status_code, response.json()["error_code"]) == (422, "email_exists")
    finally:
        execute(plan(AccountsRequest("delete", str(env_file), csv=csv)))


def test_admin_api_lists_users_with_their_total(sandbox, client: httpx.Client) -> None:
    key = sandbox.service_key
    response = client.get("/auth/v1/admin/users", params={"page": 2, "per_page": 3},
                          headers={"apikey": key, "Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["users"]) == 3 and body["aud"] == "authenticated"
    assert int(response.headers["X-Total-Count"]) >= len(sandbox.credentials)


@pytest.mark.parametrize(("args", "message"), [
    (["--count", "0"], "--count: 0 is out of range; use a number of accounts between 1 and 10000"),
    (["--count", "3", "--roles", "nurse"],
     "--roles 'nurse': use a comma-separated list of patient, doctor, pharmacist"),
])
def test_bad_values_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    code = main(["accounts", "create", "--env", "sandbox", "--csv", str(tmp_path / "users.csv"), *args])
    assert code == ExitCode.ERROR
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert not (tmp_path / "users.csv").exists()


def test_delete_refuses_accounts_it_did_not_create(env_file: Path, sandbox) -> None:
    with pytest.raises(RxError, match=r"credentials.csv:2: \S+ was not made by `rxsuite accounts create`"):
        plan(AccountsRequest("delete", str(env_file), csv=sandbox.credentials_file))
