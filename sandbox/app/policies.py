"""Realtime's per-subscriber row filter: the platform kit's prescription select policies, evaluated in Python.

PostgreSQL decides every REST and page query through row-level security (supabase/migrations/*_rx_rls.sql); a
change notification, though, carries the row itself, and the Realtime server judges it for each subscriber as
Supabase Realtime does with the same policies. tests/test_platform_kit.py checks this function against the
policies on the same rows for every role.

A signed-in user sees the prescriptions where they are the patient or the assigned doctor, and a pharmacist the
approved and paid ones too; the service role sees everything, anon nothing.
"""

from __future__ import annotations

from typing import Any

from sandbox.app.identity import Caller

__all__ = ["PHARMACY_STATUSES", "row_visible"]

PHARMACY_STATUSES = ("approved", "paid")


def row_visible(caller: Caller, row: dict[str, Any]) -> bool:
    """Whether ``caller`` may see this prescription row (as the kit's select policies decide at rest)."""
    if caller.kind == "service":
        return True
    if caller.kind != "user":
        return False
    user = str(caller.user_id)
    if user in (str(row.get("patient_id")), str(row.get("doctor_id"))):
        return True
    return caller.rx_role == "pharmacist" and row.get("status") in PHARMACY_STATUSES
