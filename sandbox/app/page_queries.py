"""The SQL behind the web pages: lists, one prescription, renewal requests and status decisions.

Every query runs as the signed-in caller (``db.as_caller``), so the platform kit's row-level security decides
what a page shows or changes, exactly as for the REST API; the status-flow trigger refuses a decision the role
may not make and writes the ``prescription_events`` row, as for a PATCH through REST.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from sandbox.app.db import Conn, Database, as_caller
from sandbox.app.errors import not_found
from sandbox.app.identity import Caller

LIST_ROWS = 50

_ROW_COLUMNS = (
    "p.id, p.status, p.quantity, p.notes, p.created_at, p.updated_at, p.patient_id, p.doctor_id,"
    " m.name, m.form, m.strength, m.price_cents, pu.display_name AS patient_name, pu.email AS patient_email,"
    " du.display_name AS doctor_name"
)
_ROW_FROM = (
    " FROM prescriptions p JOIN medications m ON m.id = p.medication_id"
    " JOIN profiles pu ON pu.id = p.patient_id JOIN profiles du ON du.id = p.doctor_id"
)


async def _rows(
    db: Database, who: Caller, statement: sql.SQL | sql.Composed, params: list[Any]
) -> list[dict[str, Any]]:
    async def run(conn: Conn) -> list[dict[str, Any]]:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall()

    return await db.read(as_caller(who, run))


async def prescriptions(
    db: Database, who: Caller, *, status: str | None = None, patient_email: str | None = None,
    oldest_first: bool = False,
) -> list[dict[str, Any]]:
    """The caller's visible prescriptions, optionally of one status or one patient (queues)."""
    params: list[Any] = []
    conditions: list[sql.Composable] = [sql.SQL("TRUE")]
    if status is not None:
        conditions.append(sql.SQL("p.status = %s"))
        params = [*params, status]
    if patient_email:
        conditions.append(sql.SQL("pu.email = %s"))
        params = [*params, patient_email.strip().lower()]
    order = sql.SQL("p.updated_at ASC" if oldest_first else "p.created_at DESC")
    statement = sql.SQL("SELECT " + _ROW_COLUMNS + _ROW_FROM + " WHERE {} ORDER BY {} LIMIT %s").format(
        sql.SQL(" AND ").join(conditions), order
    )
    return await _rows(db, who, statement, [*params, LIST_ROWS])


async def prescription(db: Database, who: Caller, prescription_id: uuid.UUID) -> dict[str, Any] | None:
    """One prescription with its event history, or None when it does not exist or is not the caller's to see."""
    statement = sql.SQL("SELECT " + _ROW_COLUMNS + _ROW_FROM + " WHERE p.id = %s")

    async def run(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(statement, [prescription_id])
        row = await cursor.fetchone()
        if row is None:
            return None
        cursor = await conn.execute(
            "SELECT e.from_status, e.to_status, e.created_at, u.display_name AS actor FROM prescription_events e"
            " LEFT JOIN profiles u ON u.id = e.actor_id WHERE e.prescription_id = %s ORDER BY e.id",
            [prescription_id],
        )
        return {**row, "events": await cursor.fetchall()}

    return await db.read(as_caller(who, run))


async def renewable_medications(db: Database, who: Caller) -> list[dict[str, Any]]:
    """Medications the patient has been prescribed before (a renewal repeats one of them)."""
    statement = sql.SQL(
        "SELECT DISTINCT m.id, m.name, m.form, m.strength FROM prescriptions p JOIN medications m"
        " ON m.id = p.medication_id WHERE p.patient_id = %s ORDER BY m.name, m.strength LIMIT %s"
    )
    return await _rows(db, who, statement, [who.user_id, LIST_ROWS])


async def request_renewal(
    db: Database, who: Caller, medication_id: uuid.UUID, quantity: int, notes: str | None
) -> uuid.UUID:
    """Insert a requested prescription for the doctor who last prescribed this medication to the patient."""

    async def run(conn: Conn) -> uuid.UUID:
        cursor = await conn.execute(
            "SELECT doctor_id FROM prescriptions WHERE patient_id = %s AND medication_id = %s"
            " ORDER BY created_at DESC LIMIT 1",
            [who.user_id, medication_id],
        )
        doctor = await cursor.fetchone()
        if doctor is None:
            raise not_found("no earlier prescription of this medication to renew")
        cursor = await conn.execute(
            "INSERT INTO prescriptions (patient_id, doctor_id, medication_id, quantity, notes)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [who.user_id, doctor["doctor_id"], medication_id, quantity, notes],
        )
        created = await cursor.fetchone()
        assert created is not None  # INSERT ... RETURNING returns the inserted row
        return created["id"]

    return await db.write(as_caller(who, run))


async def decide(db: Database, who: Caller, prescription_id: uuid.UUID, new_status: str) -> None:
    """Apply a doctor's or pharmacist's decision; 404 when the row is not theirs to change, 409 (the status-flow
    trigger) when the prescription is no longer in the status the decision applies to."""

    async def run(conn: Conn) -> None:
        cursor = await conn.execute(
            "UPDATE prescriptions SET status = %s WHERE id = %s RETURNING id", [new_status, prescription_id]
        )
        if await cursor.fetchone() is None:
            raise not_found("no prescription you may change has this id")

    await db.write(as_caller(who, run))
