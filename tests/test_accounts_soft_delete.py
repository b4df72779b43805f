"""`rxsuite accounts delete` when rows reference an account: GoTrue refuses the hard delete (500 "Database error
deleting user", the kit's foreign keys keep medical records), so the job soft-deletes that account.

Ground truth: the platform's database (`auth.users.deleted_at`, the prescription row, the rows that are gone) and
GoTrue's own answers to a sign-in, a refresh and the admin API, for accounts and a prescription the tests create.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psycopg
import pytest
import yaml

from accounts.job import AccountsRequest, execute, plan
from chaos.sandbox_env import write_sandbox_environment
from rxcore.credentials import Credential, read_credentials, write_credentials
from rxcore.exitcodes import ExitCode
from rxcore.jobs import Result
from rxcore.supabase_api import api_headers, sign_in
from rxsuite.cli import main
from sandbox.jsonhttp import JsonHandler
from tests.local_http import serving


@dataclass(frozen=True)
class SoftDeleteRun:
    """Two patients created, the first with a prescription and a session taken before the delete, then deleted."""

    env_file: Path
    csv: Path
    referenced: Credential
    unreferenced: Credential
    prescription_id: str
    refresh_token: str
    result: Result


@pytest.fixture(scope="module")
def client(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10) as http:
        yield http


def _admin(sandbox) -> dict[str, str]:
    return api_headers(sandbox.service_key)


def _prescribe(client: httpx.Client, anon_key: str, session: dict[str, Any]) -> str:
    headers = api_headers(anon_key, session["access_token"])
    medication = client.get("/rest/v1/medications", params={"select": "id", "limit": "1"}, headers=headers)
    created = client.post("/rest/v1/prescriptions", json={"medication_id": medication.json()[0]["id"], "quantity": 1},
                          headers={**headers, "Prefer": "return=representation"})
    assert created.status_code == 201, created.text
    return str(created.json()[0]["id"])


@pytest.fixture(scope="module")
def run(sandbox, client: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> SoftDeleteRun:
    tmp = tmp_path_factory.mktemp("soft-delete")
    env_file = write_sandbox_environment(sandbox.config, tmp / "env.yaml")
    csv = tmp / "users.csv"
    created = execute(plan(AccountsRequest("create", str(env_file), count=2, roles="patient", csv=csv)))
    assert created.exit_code == ExitCode.OK, created.reason
    referenced, unreferenced = read_credentials(csv)
    session = sign_in(client, sandbox.anon_key, referenced.email, referenced.password)
    prescription = _prescribe(client, sandbox.anon_key, session)
    result = execute(plan(AccountsRequest("delete", str(env_file), csv=csv)))
    return SoftDeleteRun(env_file, csv, referenced, unreferenced, prescription, session["refresh_token"], result)


def _user_row(sandbox, user_id: str) -> dict[str, Any] | None:
    with psycopg.connect(sandbox.primary_conninfo(), row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT email, deleted_at FROM auth.users WHERE id = %s", [user_id]).fetchone()


def test_delete_exits_0_counting_the_referenced_account_as_soft_deleted(run: SoftDeleteRun) -> None:
    assert run.result.exit_code == ExitCode.OK
    assert run.result.reason == "2 accounts deleted (1 soft-deleted: platform rows reference them), 0 already gone"
    details = run.result.details
    assert (details["deleted"], details["soft_deleted"], details["already_gone"], details["failed"]) == (2, 1, 0, 0)
    assert details["csv_removed"] and not run.csv.exists()


def test_the_referenced_account_stays_soft_deleted_with_its_prescription(sandbox, run: SoftDeleteRun) -> None:
    row = _user_row(sandbox, run.referenced.user_id)
    assert row is not None and row["deleted_at"] is not None
    assert row["email"] != run.referenced.email
    with psycopg.connect(sandbox.primary_conninfo()) as conn:
        kept = conn.execute("SELECT patient_id FROM prescriptions WHERE id = %s", [run.prescription_id]).fetchone()
    assert kept == (uuid.UUID(run.referenced.user_id),)


def test_the_unreferenced_account_is_hard_deleted(sandbox, run: SoftDeleteRun) -> None:
    assert _user_row(sandbox, run.unreferenced.user_id) is None


def test_a_soft_deleted_account_cannot_sign_in(sandbox, client: httpx.Client, run: SoftDeleteRun) -> None:
    response = client.post("/auth/v1/token", params={"grant_type": "password"}, headers={"apikey": sandbox.anon_key},
                           json={"email": run.referenced.email, "password": run.referenced.password})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}


def test_a_soft_deleted_accounts_refresh_token_is_refused(sandbox, client: httpx.Client, run: SoftDeleteRun) -> None:
    response = client.post("/auth/v1/token", params={"grant_type": "refresh_token"},
                           headers={"apikey": sandbox.anon_key}, json={"refresh_token": run.refresh_token})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "refresh_token_not_found",
                               "msg": "Invalid Refresh Token: Refresh Token Not Found"}


def test_the_admin_api_still_returns_it_with_deleted_at_and_emptied_metadata(sandbox, client: httpx.Client,
                                                                            run: SoftDeleteRun) -> None:
    response = client.get(f"/auth/v1/admin/users/{run.referenced.user_id}", headers=_admin(sandbox))
    assert response.status_code == 200
    user = response.json()
    row = _user_row(sandbox, run.referenced.user_id)
    assert row is not None
    assert (user["deleted_at"], user["email"]) == (row["deleted_at"].isoformat(), row["email"])
    assert (user["app_metadata"], user["user_metadata"]) == ({}, {})


def test_its_email_address_is_free_again(sandbox, client: httpx.Client, run: SoftDeleteRun) -> None:
    body = {"email": run.referenced.email, "password": "another-pw", "app_metadata": {"rx_role": "patient"}}
    created = client.post("/auth/v1/admin/users", json=body, headers=_admin(sandbox))
    assert created.status_code == 200, created.text
    gone = client.delete(f"/auth/v1/admin/users/{created.json()['id']}", headers=_admin(sandbox))
    assert gone.status_code == 200


def test_soft_deleting_it_again_answers_200(sandbox, client: httpx.Client, run: SoftDeleteRun) -> None:
    response = client.request("DELETE", f"/auth/v1/admin/users/{run.referenced.user_id}", headers=_admin(sandbox),
                              json={"should_soft_delete": True})
    assert (response.status_code, response.json()) == (200, {})


def test_a_second_delete_counts_both_accounts_as_already_gone(run: SoftDeleteRun, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    write_credentials(csv, [run.referenced, run.unreferenced])
    result = execute(plan(AccountsRequest("delete", str(run.env_file), csv=csv)))
    assert result.exit_code == ExitCode.OK
    assert result.reason == "0 accounts deleted, 2 already gone"
    assert not csv.exists()


def test_a_soft_delete_body_that_is_not_a_boolean_is_refused(sandbox, client: httpx.Client,
                                                             run: SoftDeleteRun) -> None:
    response = client.request("DELETE", f"/auth/v1/admin/users/{run.referenced.user_id}", headers=_admin(sandbox),
                              json={"should_soft_delete": "yes"})
    assert (response.status_code, response.json()["error_code"]) == (400, "bad_json")


def test_soft_flag_soft_deletes_an_unreferenced_account(sandbox, client: httpx.Client, run: SoftDeleteRun,
                                                        tmp_path: Path, capsys) -> None:
    csv = tmp_path / "users.csv"
    assert main(["accounts", "create", "--env", str(run.env_file), "--count", "1", "--csv", str(csv)]) == 0
    user_id = read_credentials(csv)[0].user_id
    try:
        assert main(["accounts", "delete", "--env", str(run.env_file), "--csv", str(csv), "--soft"]) == 0
        assert "1 accounts deleted (1 soft-deleted: as --soft asks), 0 already gone" in capsys.readouterr().out
        row = _user_row(sandbox, user_id)
        assert row is not None and row["deleted_at"] is not None
    finally:
        client.delete(f"/auth/v1/admin/users/{user_id}", headers=_admin(sandbox))


class _Unavailable(JsonHandler):
    """A platform whose admin API answers every delete 503 and records each call."""

    calls: ClassVar[list[str]] = []

    def do_DELETE(self) -> None:
        type(self).calls.append(f"DELETE {self.path}")
        self._reply(503, {"message": "upstream unavailable"})

    def do_GET(self) -> None:
        type(self).calls.append(f"GET {self.path}")
        self._reply(200, {"id": "x"})


@pytest.fixture
def unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox) -> Iterator[Path]:
    """An environment file pointing at `_Unavailable`, keys from variables as a staging file names them."""
    _Unavailable.calls = []
    monkeypatch.setenv("RXSUITE_TEST_ANON_KEY", "anon")
    monkeypatch.setenv("RXSUITE_TEST_SERVICE_KEY", "service")
    with serving(_Unavailable) as url:
        path = write_sandbox_environment(sandbox.config, tmp_path / "env.yaml")
        raw = yaml.safe_load(path.read_text())
        raw.update(base_url=url, anon_key_env="RXSUITE_TEST_ANON_KEY", service_key_env="RXSUITE_TEST_SERVICE_KEY")
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        yield path


def test_a_refusal_other_than_500_is_reported_not_soft_deleted(unavailable: Path, tmp_path: Path) -> None:
    csv = tmp_path / "users.csv"
    user_id = str(uuid.uuid4())
    write_credentials(csv, [Credential("rx-patient-abcdef-0001@synthetic.rx.test", "pw", "patient", user_id)])
    result = execute(plan(AccountsRequest("delete", str(unavailable), csv=csv)))
    assert result.exit_code == ExitCode.FAIL
    assert result.reason == ("1 accounts not deleted: rx-patient-abcdef-0001@synthetic.rx.test: "
                             "HTTP 503: upstream unavailable")
    assert _Unavailable.calls == [f"DELETE /auth/v1/admin/users/{user_id}"]
    assert csv.exists()
