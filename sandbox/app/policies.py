"""Row-level rules: which rows each kind of caller may see, as a SQL condition (the sandbox's RLS).

patient: own rows; doctor: prescriptions assigned to them; pharmacist: approved and paid prescriptions;
service role: everything. Events and payments follow the visibility of their prescription (a patient's
payments by owner). ``probe_writes`` is for the service role only. The medication catalogue is public.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from sandbox.app.errors import forbidden
from sandbox.app.identity import Caller

PHARMACY_STATUSES = ["approved", "paid"]


def prescription_rule(caller: Caller, alias: str = "prescriptions") -> tuple[sql.Composable, list[Any]]:
    table = sql.Identifier(alias)
    if caller.kind == "service":
        return sql.SQL("TRUE"), []
    if caller.rx_role == "patient":
        return sql.SQL("{}.patient_id = %s").format(table), [caller.user_id]
    if caller.rx_role == "doctor":
        return sql.SQL("{}.doctor_id = %s").format(table), [caller.user_id]
    if caller.rx_role == "pharmacist":
        return sql.SQL("{}.status = ANY(%s)").format(table), [PHARMACY_STATUSES]
    return sql.SQL("FALSE"), []


def visibility(table: str, caller: Caller) -> tuple[sql.Composable, list[Any]]:
    """The condition limiting ``table`` to the rows ``caller`` may read (caller already authenticated)."""
    if table == "medications":
        return sql.SQL("TRUE"), []
    if table == "probe_writes":
        if caller.kind != "service":
            raise forbidden("permission denied for table probe_writes", hint="the write ledger needs the service key")
        return sql.SQL("TRUE"), []
    if caller.kind == "service":
        return sql.SQL("TRUE"), []
    if table == "prescriptions":
        return prescription_rule(caller)
    if table == "payments" and caller.rx_role == "patient":
        return sql.SQL("payments.patient_id = %s"), [caller.user_id]
    rule, params = prescription_rule(caller, "p")
    owner = sql.Identifier(table)
    condition = sql.SQL("EXISTS (SELECT 1 FROM prescriptions p WHERE p.id = {}.prescription_id AND {})").format(
        owner, rule
    )
    return condition, params


def row_visible(caller: Caller, row: dict[str, Any]) -> bool:
    """The same prescription rule, evaluated on a row from a change notification."""
    if caller.kind == "service":
        return True
    user = str(caller.user_id)
    if caller.rx_role == "patient":
        return str(row.get("patient_id")) == user
    if caller.rx_role == "doctor":
        return str(row.get("doctor_id")) == user
    if caller.rx_role == "pharmacist":
        return row.get("status") in PHARMACY_STATUSES
    return False
