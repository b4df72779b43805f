"""The tables and columns the load user models read and write (locustfiles/users.py), which a target's project
must have; tests/test_preflight.py keeps this list a superset of what users.py names."""

from __future__ import annotations

__all__ = ["USED_COLUMNS"]

USED_COLUMNS: dict[str, tuple[str, ...]] = {
    "medications": ("id", "name", "price_cents"),
    "prescriptions": ("id", "patient_id", "doctor_id", "medication_id", "status", "quantity", "created_at",
                      "updated_at"),
}
