"""Synthetic seed data: users under ``synthetic.rx.test``, a medication catalogue and prescriptions in every
status, plus the credentials file the load users read.

Re-seeding replaces the previous seed (the probe_writes ledger is left alone). Passwords use the sandbox-only
cheap hash from ``passwords`` so hundreds of users seed in well under a second.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from rxcore.files import write_text_atomic
from sandbox.app.passwords import hash_password

EMAIL_DOMAIN = "synthetic.rx.test"
PRESCRIPTIONS_PER_PATIENT = 4
_STATUS_CYCLE = ("requested", "approved", "paid", "dispensed", "rejected", "requested", "approved")
_HISTORY = {
    "requested": ["requested"],
    "approved": ["requested", "approved"],
    "rejected": ["requested", "rejected"],
    "paid": ["requested", "approved", "paid"],
    "dispensed": ["requested", "approved", "paid", "dispensed"],
}
_NAMES = (
    "Amoxicillin", "Atorvastatin", "Metformin", "Lisinopril", "Levothyroxine", "Amlodipine", "Omeprazole",
    "Simvastatin", "Losartan", "Albuterol", "Gabapentin", "Hydrochlorothiazide", "Sertraline", "Montelukast",
    "Fluticasone", "Escitalopram", "Rosuvastatin", "Bupropion", "Pantoprazole", "Furosemide", "Tamsulosin",
    "Meloxicam", "Clopidogrel", "Prednisone", "Citalopram", "Trazodone", "Pravastatin", "Carvedilol",
)
_FORMS = (("tablet", "mg"), ("capsule", "mg"), ("oral solution", "mg/5 mL"), ("inhaler", "mcg/dose"))
_STRENGTHS = (5, 10, 20, 25, 40, 50, 100, 250, 500)
_FIRST = ("Alex", "Sam", "Jordan", "Riley", "Casey", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Robin")
_LAST = ("Lee", "Patel", "Garcia", "Nguyen", "Smith", "Kim", "Brown", "Silva", "Okafor", "Novak", "Berg")


def seed_database(
    conninfo: str,
    *,
    patients: int,
    doctors: int,
    pharmacists: int,
    medications: int,
    credentials_path: Path,
    rng_seed: int = 7,
) -> None:
    """Replace the seed data and write ``email,password,role,user_id`` rows to ``credentials_path``."""
    for name, count in (("patients", patients), ("doctors", doctors), ("medications", medications)):
        if count < 1:
            raise ValueError(f"seed needs at least one of {name} (got {count})")
    if pharmacists < 0:
        raise ValueError(f"pharmacists must be >= 0 (got {pharmacists})")
    rng = random.Random(rng_seed)
    users = _users(rng, patients=patients, doctors=doctors, pharmacists=pharmacists)
    catalogue = _medications(rng, medications)
    doctor_ids = [u[0] for u in users if u[2] == "doctor"]
    prescriptions, events, payments = _prescriptions(
        rng, [u[0] for u in users if u[2] == "patient"], doctor_ids, catalogue
    )
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(
            "TRUNCATE payments, prescription_events, prescriptions, auth.refresh_tokens, medications, profiles,"
            " auth.users CASCADE"
        )
        # The seed writes each prescription's whole history itself: the kit's trigger would add a second first
        # event. Disabled inside this transaction only (DDL is transactional), while the profiles trigger runs.
        cur.execute("ALTER TABLE prescriptions DISABLE TRIGGER prescriptions_event_on_insert")
        user_rows = [(u[0], u[1], u[2], u[4], u[5]) for u in users]
        _copy(cur, "auth.users (id, email, role, password_hash, display_name)", user_rows)
        _copy(cur, "medications (id, name, form, strength, price_cents)", catalogue)
        _copy(
            cur,
            "prescriptions (id, patient_id, doctor_id, medication_id, status, quantity, notes, created_at, updated_at)",
            prescriptions,
        )
        _copy(cur, "prescription_events (prescription_id, from_status, to_status, actor_id, created_at)", events)
        _copy(
            cur,
            "payments (prescription_id, patient_id, provider_intent_id, amount_cents, status, created_at, updated_at)",
            payments,
        )
        cur.execute("ALTER TABLE prescriptions ENABLE TRIGGER prescriptions_event_on_insert")
    _write_credentials(credentials_path, [(u[1], u[3], u[2], str(u[0])) for u in users])


def _users(rng: random.Random, *, patients: int, doctors: int, pharmacists: int) -> list[tuple]:
    users = []
    for role, count in (("patient", patients), ("doctor", doctors), ("pharmacist", pharmacists)):
        for index in range(1, count + 1):
            password = "".join(rng.choices("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=16))
            salt = rng.randbytes(16)
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            display = f"Dr. {name}" if role == "doctor" else name
            email = f"{role}{index:04d}@{EMAIL_DOMAIN}"
            users.append((uuid.UUID(int=rng.getrandbits(128), version=4), email, role, password,
                          hash_password(password, salt=salt), display))
    return users


def _medications(rng: random.Random, count: int) -> list[tuple]:
    catalogue = []
    for index in range(count):
        form, unit = _FORMS[index % len(_FORMS)]
        strength = _STRENGTHS[(index // len(_FORMS)) % len(_STRENGTHS)]
        name = _NAMES[index % len(_NAMES)]
        if index >= len(_NAMES):
            name = f"{name} {'XR' if index % 2 else 'ER'}-{index // len(_NAMES)}"
        catalogue.append(
            (uuid.UUID(int=rng.getrandbits(128), version=4), name, form, f"{strength} {unit}", rng.randint(300, 9000))
        )
    return catalogue


def _prescriptions(
    rng: random.Random, patient_ids: list[uuid.UUID], doctor_ids: list[uuid.UUID], catalogue: list[tuple]
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    now = datetime.now(UTC)
    prescriptions, events, payments = [], [], []
    for patient_index, patient in enumerate(patient_ids):
        doctor = doctor_ids[patient_index % len(doctor_ids)]
        for offset in range(PRESCRIPTIONS_PER_PATIENT):
            status = _STATUS_CYCLE[(patient_index + offset) % len(_STATUS_CYCLE)]
            medication = rng.choice(catalogue)
            quantity = rng.choice((1, 1, 2, 3))
            created = now - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 1440))
            rx_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            history = _HISTORY[status]
            updated = created + timedelta(hours=len(history) - 1)
            prescriptions.append((rx_id, patient, doctor, medication[0], status, quantity, None, created, updated))
            previous: str | None = None
            for step, to_status in enumerate(history):
                actor = patient if to_status in ("requested", "paid") else doctor
                events.append((rx_id, previous, to_status, actor, created + timedelta(hours=step)))
                previous = to_status
            if status in ("paid", "dispensed"):
                amount = medication[4] * quantity
                payments.append((rx_id, patient, f"pi_seed_{rx_id.hex[:24]}", amount, "succeeded", created, updated))
    return prescriptions, events, payments


def _copy(cur: psycopg.Cursor, target: str, rows: list[tuple]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _write_credentials(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """Write atomically with owner-only permissions: the file holds (synthetic) passwords."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(("email", "password", "role", "user_id"))
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue(), mode=0o600)
