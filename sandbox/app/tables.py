"""The tables the REST API exposes: column names and value types, the whitelist every query is built from."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUSES = ("requested", "approved", "rejected", "paid", "dispensed")
PAYMENT_STATUSES = ("requires_payment_method", "processing", "succeeded", "failed", "canceled")


def _as_uuid(raw: str) -> uuid.UUID:
    return uuid.UUID(raw)


def _as_int(raw: str) -> int:
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise ValueError("out of range")
    return value


def _as_timestamp(raw: str) -> datetime:
    """ISO 8601; a date or a time without zone is taken as UTC."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _as_text(raw: str) -> str:
    if "\x00" in raw:
        raise ValueError("NUL character")
    return raw


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


@dataclass(frozen=True)
class ColumnType:
    name: str
    parse: Callable[[str], Any]
    textual: bool = False


UUID = ColumnType("uuid", _as_uuid)
INT = ColumnType("integer", _as_int)
TEXT = ColumnType("text", _as_text, textual=True)
TIMESTAMP = ColumnType("timestamptz", _as_timestamp)
STATUS = ColumnType("prescription status", _one_of(STATUSES), textual=True)
PAYMENT_STATUS = ColumnType("payment status", _one_of(PAYMENT_STATUSES), textual=True)


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, ColumnType]
    default_order: str


TABLES: dict[str, Table] = {
    "medications": Table(
        "medications",
        {"id": UUID, "name": TEXT, "form": TEXT, "strength": TEXT, "price_cents": INT},
        "name",
    ),
    "prescriptions": Table(
        "prescriptions",
        {
            "id": UUID,
            "patient_id": UUID,
            "doctor_id": UUID,
            "medication_id": UUID,
            "status": STATUS,
            "quantity": INT,
            "notes": TEXT,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        "created_at",
    ),
    "prescription_events": Table(
        "prescription_events",
        {
            "id": INT,
            "prescription_id": UUID,
            "from_status": STATUS,
            "to_status": STATUS,
            "actor_id": UUID,
            "created_at": TIMESTAMP,
        },
        "id",
    ),
    "payments": Table(
        "payments",
        {
            "id": UUID,
            "prescription_id": UUID,
            "patient_id": UUID,
            "provider_intent_id": TEXT,
            "amount_cents": INT,
            "currency": TEXT,
            "status": PAYMENT_STATUS,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        "created_at",
    ),
    "probe_writes": Table(
        "probe_writes",
        {"seq": INT, "run_id": TEXT, "payload": TEXT, "acknowledged_at": TIMESTAMP},
        "seq",
    ),
}
