"""Contract: the payment Edge Functions against the Stripe-shaped provider, and the signed webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app_harness import ApiUser, approved_prescription, login, request_renewal

SUCCEEDING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
WEBHOOK_WAIT_S = 10.0


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=15.0) as http:
        yield http


def _call(user: ApiUser, name: str, body: dict[str, Any]) -> httpx.Response:
    return user.client.post(f"/functions/v1/{name}", json=body, headers=user.headers())


def _wait_for_status(user: ApiUser, prescription_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WEBHOOK_WAIT_S
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        row = user.get("/rest/v1/prescriptions", id=f"eq.{prescription_id}").json()[0]
        if row["status"] == status:
            return row
        time.sleep(0.1)
    raise AssertionError(f"prescription stayed {row.get('status')!r}, expected {status!r}")


def test_successful_payment_is_marked_paid_by_the_webhook(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 30)
    doctor = login(client, sandbox, "doctor", 5)
    row = approved_prescription(patient, doctor)
    intent = _call(patient, "create-payment-intent", {"prescription_id": row["id"]})
    assert intent.status_code == 200, intent.text
    assert intent.json()["currency"] == "usd" and intent.json()["amount"] > 0
    assert intent.json()["client_secret"]
    payment = {"payment_intent_id": intent.json()["payment_intent_id"], "card_number": SUCCEEDING_CARD}
    confirmed = _call(patient, "confirm-payment", payment)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    _wait_for_status(patient, row["id"], "paid")
    events = patient.get("/rest/v1/prescription_events", prescription_id=f"eq.{row['id']}", order="id.asc").json()
    assert [e["to_status"] for e in events] == ["requested", "approved", "paid"]
    payments = patient.get("/rest/v1/payments", prescription_id=f"eq.{row['id']}").json()
    assert [p["status"] for p in payments] == ["succeeded"]


def test_declined_card_is_402_with_decline_code(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 31)
    doctor = login(client, sandbox, "doctor", 1)
    row = approved_prescription(patient, doctor)
    intent = _call(patient, "create-payment-intent", {"prescription_id": row["id"]}).json()
    declined = _call(
        patient, "confirm-payment", {"payment_intent_id": intent["payment_intent_id"], "card_number": DECLINED_CARD}
    )
    assert declined.status_code == 402
    assert declined.json()["decline_code"]
    assert declined.json()["message"]
    assert patient.get("/rest/v1/prescriptions", id=f"eq.{row['id']}").json()[0]["status"] == "approved"


def test_unapproved_prescription_cannot_be_paid(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 32)
    doctor = login(client, sandbox, "doctor", 2)
    row = request_renewal(patient, doctor)
    response = _call(patient, "create-payment-intent", {"prescription_id": row["id"]})
    assert response.status_code == 409
    assert response.json()["message"]


def test_another_patients_prescription_cannot_be_paid(client: httpx.Client, sandbox: Any) -> None:
    owner = login(client, sandbox, "patient", 33)
    other = login(client, sandbox, "patient", 34)
    doctor = login(client, sandbox, "doctor", 2)
    row = approved_prescription(owner, doctor)
    response = _call(other, "create-payment-intent", {"prescription_id": row["id"]})
    assert response.status_code == 404
    assert row["id"] not in response.text


def test_functions_reject_bad_input_with_400(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 35)
    assert _call(patient, "create-payment-intent", {"prescription_id": "nope"}).status_code == 400
    assert _call(patient, "confirm-payment", {"payment_intent_id": "pi_x", "card_number": "abc"}).status_code == 400
    malformed = client.post("/functions/v1/create-payment-intent", content="{", headers=patient.headers())
    assert malformed.status_code == 400


def test_functions_need_a_signed_in_patient(client: httpx.Client, sandbox: Any) -> None:
    doctor = login(client, sandbox, "doctor", 3)
    anonymous = client.post("/functions/v1/create-payment-intent", json={}, headers={"apikey": sandbox.anon_key})
    assert anonymous.status_code == 401
    assert _call(doctor, "create-payment-intent", {"prescription_id": "x"}).status_code == 403


def test_provider_outage_is_503_while_other_routes_work(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 36)
    doctor = login(client, sandbox, "doctor", 4)
    row = approved_prescription(patient, doctor)
    switched = httpx.post(f"{sandbox.payments_url}/_control", json={"outage": True}, timeout=5.0)
    assert switched.status_code == 200, switched.text
    try:
        response = _call(patient, "create-payment-intent", {"prescription_id": row["id"]})
        assert response.status_code == 503
        assert response.json()["code"] == "payment_provider_unavailable"
        assert patient.get("/rest/v1/prescriptions", id=f"eq.{row['id']}").status_code == 200
    finally:
        httpx.post(f"{sandbox.payments_url}/_control", json={"outage": False}, timeout=5.0)


def test_webhook_with_bad_signature_is_400(client: httpx.Client, sandbox: Any) -> None:
    body = '{"type":"payment_intent.succeeded","data":{"object":{"id":"pi_forged"}}}'
    stamp = int(time.time())
    forged = client.post(
        "/functions/v1/payment-webhook", content=body, headers={"Stripe-Signature": f"t={stamp},v1={'0' * 64}"}
    )
    assert forged.status_code == 400
    unsigned = client.post("/functions/v1/payment-webhook", content=body)
    assert unsigned.status_code == 400
