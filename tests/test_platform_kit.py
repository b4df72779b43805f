"""The platform kit (supabase/migrations) on an empty PostgreSQL that has only Supabase's shim: the migrations
apply in order and once, and the policies and the status-flow trigger themselves refuse what they should,
straight in SQL under the roles and JWT claims PostgREST would set (the ground truth the sandbox's API rests on).
The Realtime server's Python row filter is checked against the same policies on the same rows, and the sandbox's
API answers what the database refuses in PostgREST's words.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from sandbox.app.db import request_role
from sandbox.app.identity import Caller
from sandbox.app.platform_schema import (
    MIGRATIONS_DIR,
    apply_migrations,
    apply_shim,
    create_platform_roles,
    migrations,
)
from sandbox.app.policies import row_visible
from tests.app_harness import DevStack, login

STATUSES = ("requested", "approved", "rejected", "paid", "dispensed")
SERVICE = Caller("service", True)


@dataclass(frozen=True)
class Kit:
    """The throwaway database with the kit applied, the versions the first application applied, and its people."""

    conninfo: str
    applied: list[str]
    patient: Caller
    other_patient: Caller
    doctor: Caller
    other_doctor: Caller
    pharmacist: Caller
    medication_id: uuid.UUID

    def connect(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row)


def _user(conn: psycopg.Connection[Any], role: str, name: str) -> Caller:
    """A user created the way GoTrue creates one (a row in auth.users); its profile comes from the kit's trigger."""
    user_id = uuid.uuid4()
    email = f"{name}@synthetic.rx.test"
    conn.execute(
        "INSERT INTO auth.users (id, email, role, password_hash, display_name) VALUES (%s, %s, %s, 'x', %s)",
        [user_id, email, role, name],
    )
    return Caller("user", True, user_id=user_id, email=email, rx_role=role, expires_at=2**31)


@pytest.fixture(scope="module")
def kit() -> Iterator[Kit]:
    workdir = Path(tempfile.mkdtemp(prefix="rx-kit-"))
    cluster = DevStack(workdir)
    try:
        cluster.start_postgres()
        create_platform_roles(cluster.admin_conninfo(), "rx")
        with psycopg.connect(cluster.primary_conninfo(), autocommit=True) as conn:
            apply_shim(conn)
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
            applied = apply_migrations(conn)
            patient, other_patient = _user(conn, "patient", "patient-a"), _user(conn, "patient", "patient-b")
            doctor, other_doctor = _user(conn, "doctor", "doctor-a"), _user(conn, "doctor", "doctor-b")
            pharmacist = _user(conn, "pharmacist", "pharmacist-a")
            medication = conn.execute(
                "INSERT INTO medications (name, form, strength, price_cents) VALUES ('Metformin', 'tablet', '500 mg',"
                " 900) RETURNING id"
            ).fetchone()
            assert medication is not None
        yield Kit(cluster.primary_conninfo(), applied, patient, other_patient, doctor, other_doctor, pharmacist,
                  medication[0])
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _as(conn: psycopg.Connection[Any], caller: Caller) -> None:
    """What the sandbox's app (db.as_caller) and PostgREST do at the start of a request's transaction."""
    role, claims = request_role(caller)
    conn.execute("SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)", [role, claims])


def _prescription(kit: Kit, status: str = "requested", *, patient: Caller | None = None,
                  doctor: Caller | None = None) -> uuid.UUID:
    """A prescription written by the database owner (no claims), in any status: the tests' ground truth."""
    with kit.connect() as conn:
        row = conn.execute(
            "INSERT INTO prescriptions (patient_id, doctor_id, medication_id, status) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            [(patient or kit.patient).user_id, (doctor or kit.doctor).user_id, kit.medication_id, status],
        ).fetchone()
    assert row is not None
    return row["id"]


def _change_status(kit: Kit, caller: Caller, prescription_id: uuid.UUID, status: str) -> list[dict[str, Any]]:
    with kit.connect() as conn, conn.transaction():
        _as(conn, caller)
        return conn.execute(
            "UPDATE prescriptions SET status = %s WHERE id = %s RETURNING id, status", [status, prescription_id]
        ).fetchall()


def test_migrations_apply_in_version_order_once_and_are_recorded(kit: Kit) -> None:
    files = sorted(path.name for path in MIGRATIONS_DIR.glob("*.sql"))
    assert kit.applied == [name[:14] for name in files]
    with kit.connect() as conn:
        recorded = conn.execute("SELECT version, name FROM supabase_migrations.schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in recorded] == [(m.version, m.name) for m in migrations()]
        assert apply_migrations(conn) == []


def test_migration_files_follow_the_supabase_cli_layout() -> None:
    names = sorted(path.name for path in MIGRATIONS_DIR.iterdir())
    assert [f"{m.version}_{m.name}.sql" for m in migrations()] == names
    assert {m.name for m in migrations()} == {"rx_schema", "rx_rls", "rx_status_flow", "rx_realtime",
                                              "rx_write_ledger"}


def test_a_new_auth_user_gets_a_profile_with_the_role_from_its_app_metadata(kit: Kit) -> None:
    with kit.connect() as conn:
        profile = conn.execute("SELECT email, role FROM profiles WHERE id = %s", [kit.doctor.user_id]).fetchone()
    assert profile == {"email": kit.doctor.email, "role": "doctor"}


def test_a_patient_cannot_select_another_patients_prescription(kit: Kit) -> None:
    theirs = _prescription(kit, patient=kit.patient)
    with kit.connect() as conn:
        for caller, expected in ((kit.other_patient, 0), (kit.patient, 1)):
            with conn.transaction():
                _as(conn, caller)
                count = conn.execute("SELECT count(*) AS n FROM prescriptions WHERE id = %s", [theirs]).fetchone()
            assert count == {"n": expected}


def test_a_patient_cannot_insert_a_prescription_for_another_patient(kit: Kit) -> None:
    with kit.connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege) as refused, conn.transaction():
        _as(conn, kit.patient)
        conn.execute(
            "INSERT INTO prescriptions (patient_id, doctor_id, medication_id) VALUES (%s, %s, %s)",
            [kit.other_patient.user_id, kit.doctor.user_id, kit.medication_id],
        )
    assert refused.value.sqlstate == "42501"
    assert refused.value.diag.message_primary == 'new row violates row-level security policy for table "prescriptions"'


@pytest.mark.parametrize(
    ("who", "start", "target", "sqlstate"),
    [
        ("doctor", "approved", "rejected", "PT409"),  # a doctor decides requested prescriptions only
        ("pharmacist", "approved", "dispensed", "PT409"),  # not paid yet
        ("patient", "requested", "approved", "42501"),  # a patient changes no status
    ],
)
def test_a_status_change_the_role_may_not_make_is_refused_by_the_trigger(
    kit: Kit, who: str, start: str, target: str, sqlstate: str
) -> None:
    callers = {"doctor": kit.doctor, "pharmacist": kit.pharmacist, "patient": kit.patient}
    prescription = _prescription(kit, start)
    with pytest.raises(psycopg.Error) as refused:
        _change_status(kit, callers[who], prescription, target)
    assert refused.value.sqlstate == sqlstate
    with kit.connect() as conn:
        assert conn.execute("SELECT status FROM prescriptions WHERE id = %s", [prescription]).fetchone() == {
            "status": start}


def test_an_allowed_change_is_made_and_recorded_with_its_actor(kit: Kit) -> None:
    prescription = _prescription(kit)
    assert _change_status(kit, kit.doctor, prescription, "approved") == [{"id": prescription, "status": "approved"}]
    with kit.connect() as conn:
        events = conn.execute(
            "SELECT from_status, to_status, actor_id FROM prescription_events WHERE prescription_id = %s ORDER BY id",
            [prescription],
        ).fetchall()
    assert [tuple(e.values()) for e in events] == [(None, "requested", kit.patient.user_id), ("requested", "approved",
                                                                                kit.doctor.user_id)]


def test_a_pharmacist_dispensing_gets_the_row_back_and_then_no_longer_sees_it(kit: Kit) -> None:
    prescription = _prescription(kit, "paid")
    assert _change_status(kit, kit.pharmacist, prescription, "dispensed") == [
        {"id": prescription, "status": "dispensed"}]
    with kit.connect() as conn, conn.transaction():
        _as(conn, kit.pharmacist)
        assert conn.execute("SELECT id FROM prescriptions WHERE id = %s", [prescription]).fetchall() == []


@pytest.mark.parametrize("who", ["anon", "patient"])
def test_only_the_service_role_reaches_the_write_ledger(kit: Kit, who: str) -> None:
    caller = kit.patient if who == "patient" else Caller("anon", True)
    with kit.connect() as conn:
        for statement in ("SELECT * FROM probe_writes", "INSERT INTO probe_writes (run_id, seq) VALUES ('kit', 1)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                _as(conn, caller)
                conn.execute(statement)
        with conn.transaction():
            _as(conn, SERVICE)
            conn.execute("INSERT INTO probe_writes (run_id, seq) VALUES (%s, 1)", [f"kit-{who}"])
            assert conn.execute("SELECT count(*) AS n FROM probe_writes WHERE run_id = %s", [f"kit-{who}"]
                                ).fetchone() == {"n": 1}


def test_prescriptions_are_in_the_realtime_publication(kit: Kit) -> None:
    with kit.connect() as conn:
        tables = conn.execute("SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime'")
        assert [r["tablename"] for r in tables] == ["prescriptions"]


def test_the_realtime_filter_agrees_with_the_select_policies_for_every_role(kit: Kit) -> None:
    """Every status for two patients and two doctors; each caller's visible set, by SQL and by row_visible."""
    for patient in (kit.patient, kit.other_patient):
        for doctor in (kit.doctor, kit.other_doctor):
            for status in STATUSES:
                _prescription(kit, status, patient=patient, doctor=doctor)
    callers = [kit.patient, kit.other_patient, kit.doctor, kit.other_doctor, kit.pharmacist, SERVICE]
    with kit.connect() as conn:
        rows = conn.execute("SELECT * FROM prescriptions").fetchall()
        for caller in callers:
            with conn.transaction():
                _as(conn, caller)
                by_sql = {r["id"] for r in conn.execute("SELECT id FROM prescriptions")}
            by_python = {r["id"] for r in rows if row_visible(caller, r)}
            assert by_sql == by_python, caller
            assert by_sql, caller


def test_the_api_answers_a_write_the_policies_refuse_as_postgrest_does(sandbox: Any) -> None:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as client:
        patient, victim = login(client, sandbox, "patient", 60), login(client, sandbox, "patient", 61)
        medication = patient.get("/rest/v1/medications", select="id", limit=1).json()[0]["id"]
        response = patient.post("/rest/v1/prescriptions", {"medication_id": medication, "patient_id": victim.id})
    assert (response.status_code, response.json()) == (403, {
        "code": "42501", "message": 'new row violates row-level security policy for table "prescriptions"',
        "details": None, "hint": None})


def test_the_api_answers_a_transition_the_trigger_refuses_with_its_sqlstate(sandbox: Any) -> None:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as client:
        pharmacist = login(client, sandbox, "pharmacist", 5)
        approved = pharmacist.get("/rest/v1/prescriptions", status="eq.approved", limit=1).json()[0]
        response = pharmacist.patch("/rest/v1/prescriptions", {"status": "dispensed"}, id=f"eq.{approved['id']}")
    assert (response.status_code, response.json()["code"]) == (409, "PT409")
    assert response.json()["message"] == "invalid status transition from approved to dispensed for a pharmacist"
