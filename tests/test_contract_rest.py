"""Contract: the PostgREST-shaped REST subset, its row-level rules, the status flow and bad input (400, not 500).

A GET for a row that is not the caller's (even by ``id=eq.<id>``) returns ``[]``; a PATCH of such a row is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app_harness import ApiUser, api_headers, approved_prescription, login, request_renewal


@pytest.fixture
def client(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.edge_url, timeout=10.0) as http:
        yield http


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"code", "message", "details", "hint"}
    return body


def _events(user: ApiUser, prescription_id: str) -> list[dict[str, Any]]:
    response = user.get("/rest/v1/prescription_events", prescription_id=f"eq.{prescription_id}", order="id.asc")
    assert response.status_code == 200, response.text
    return response.json()


def test_medications_support_select_filter_order_limit_offset(client: httpx.Client, sandbox: Any) -> None:
    headers = api_headers(sandbox.anon_key)
    ordered = {"select": "*", "order": "price_cents.desc"}
    everything = client.get("/rest/v1/medications", params=ordered, headers=headers)
    assert everything.status_code == 200
    prices = [row["price_cents"] for row in everything.json()]
    assert prices == sorted(prices, reverse=True)
    page = client.get(
        "/rest/v1/medications",
        params={"select": "id,price_cents", "order": "price_cents.desc", "limit": "2", "offset": "1"},
        headers=headers,
    )
    assert page.json() == [{"id": r["id"], "price_cents": r["price_cents"]} for r in everything.json()[1:3]]


def test_medication_filters_ilike_in_and_ranges(client: httpx.Client, sandbox: Any) -> None:
    headers = api_headers(sandbox.anon_key)
    rows = client.get("/rest/v1/medications", headers=headers).json()
    name = rows[0]["name"]
    matched = client.get("/rest/v1/medications", params={"name": f"ilike.*{name[1:4].upper()}*"}, headers=headers)
    assert rows[0]["id"] in {r["id"] for r in matched.json()}
    ids = [rows[0]["id"], rows[1]["id"]]
    chosen = client.get("/rest/v1/medications", params={"id": f"in.({','.join(ids)})"}, headers=headers)
    assert sorted(r["id"] for r in chosen.json()) == sorted(ids)
    cheap = client.get("/rest/v1/medications", params={"price_cents": "lt.1000"}, headers=headers).json()
    dear = client.get("/rest/v1/medications", params={"price_cents": "gte.1000"}, headers=headers).json()
    assert all(r["price_cents"] < 1000 for r in cheap) and all(r["price_cents"] >= 1000 for r in dear)
    assert len(cheap) + len(dear) == len(rows)


def test_patient_sees_only_own_prescriptions(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 10)
    rows = patient.get("/rest/v1/prescriptions").json()
    assert rows
    assert {r["patient_id"] for r in rows} == {patient.id}


def test_other_patients_row_by_id_returns_empty_list(client: httpx.Client, sandbox: Any) -> None:
    owner = login(client, sandbox, "patient", 11)
    other = login(client, sandbox, "patient", 12)
    row_id = owner.get("/rest/v1/prescriptions", select="id", limit=1).json()[0]["id"]
    response = other.get("/rest/v1/prescriptions", id=f"eq.{row_id}")
    assert response.status_code == 200
    assert response.json() == []
    assert other.get("/rest/v1/prescription_events", prescription_id=f"eq.{row_id}").json() == []


def test_doctor_sees_only_assigned_prescriptions(client: httpx.Client, sandbox: Any) -> None:
    doctor = login(client, sandbox, "doctor", 1)
    rows = doctor.get("/rest/v1/prescriptions", limit=1000).json()
    assert rows
    assert {r["doctor_id"] for r in rows} == {doctor.id}


def test_pharmacist_sees_only_approved_and_paid(client: httpx.Client, sandbox: Any) -> None:
    pharmacist = login(client, sandbox, "pharmacist", 0)
    statuses = {r["status"] for r in pharmacist.get("/rest/v1/prescriptions", select="status", limit=1000).json()}
    assert statuses
    assert statuses <= {"approved", "paid"}


def test_payments_are_visible_to_their_patient_only(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 13)
    rows = patient.get("/rest/v1/payments").json()
    assert all(r["patient_id"] == patient.id for r in rows)


def test_renewal_request_creates_requested_row_and_event(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 14)
    doctor = login(client, sandbox, "doctor", 2)
    row = request_renewal(patient, doctor, notes="renewal please")
    assert (row["status"], row["patient_id"], row["doctor_id"]) == ("requested", patient.id, doctor.id)
    events = _events(patient, row["id"])
    assert [(e["from_status"], e["to_status"], e["actor_id"]) for e in events] == [(None, "requested", patient.id)]


def test_patient_cannot_request_for_someone_else(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 15)
    victim = login(client, sandbox, "patient", 16)
    medication = patient.get("/rest/v1/medications", select="id", limit=1).json()[0]["id"]
    response = patient.post("/rest/v1/prescriptions", {"medication_id": medication, "patient_id": victim.id})
    _assert_error(response, 403)


def test_patient_cannot_insert_an_approved_prescription(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 15)
    medication = patient.get("/rest/v1/medications", select="id", limit=1).json()[0]["id"]
    response = patient.post("/rest/v1/prescriptions", {"medication_id": medication, "status": "approved"})
    _assert_error(response, 403)


def test_doctor_approves_and_an_event_is_written(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 17)
    doctor = login(client, sandbox, "doctor", 3)
    row = approved_prescription(patient, doctor)
    assert row["status"] == "approved"
    assert [e["to_status"] for e in _events(patient, row["id"])] == ["requested", "approved"]
    assert _events(patient, row["id"])[-1]["actor_id"] == doctor.id


def test_doctor_rejects_a_request(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 17)
    doctor = login(client, sandbox, "doctor", 3)
    row = request_renewal(patient, doctor)
    response = doctor.patch("/rest/v1/prescriptions", {"status": "rejected"}, id=f"eq.{row['id']}")
    assert response.status_code == 200
    assert response.json()[0]["status"] == "rejected"


def test_invalid_transition_is_409_and_changes_nothing(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 18)
    doctor = login(client, sandbox, "doctor", 4)
    row = approved_prescription(patient, doctor)
    response = doctor.patch("/rest/v1/prescriptions", {"status": "rejected"}, id=f"eq.{row['id']}")
    _assert_error(response, 409)
    assert patient.get("/rest/v1/prescriptions", id=f"eq.{row['id']}").json()[0]["status"] == "approved"
    assert len(_events(patient, row["id"])) == 2


def test_doctor_cannot_change_another_doctors_prescription(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 19)
    assigned = login(client, sandbox, "doctor", 4)
    intruder = login(client, sandbox, "doctor", 5)
    row = request_renewal(patient, assigned)
    response = intruder.patch("/rest/v1/prescriptions", {"status": "approved"}, id=f"eq.{row['id']}")
    body = _assert_error(response, 404)
    assert row["id"] not in str(body)
    assert patient.get("/rest/v1/prescriptions", id=f"eq.{row['id']}").json()[0]["status"] == "requested"


def test_patient_cannot_patch_status(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 20)
    doctor = login(client, sandbox, "doctor", 0)
    row = request_renewal(patient, doctor)
    _assert_error(patient.patch("/rest/v1/prescriptions", {"status": "approved"}, id=f"eq.{row['id']}"), 403)


def test_pharmacist_dispenses_paid_prescription(client: httpx.Client, sandbox: Any) -> None:
    pharmacist = login(client, sandbox, "pharmacist", 1)
    paid = pharmacist.get("/rest/v1/prescriptions", status="eq.paid", limit=1, order="created_at.asc").json()
    assert paid, "the seed has paid prescriptions"
    response = pharmacist.patch("/rest/v1/prescriptions", {"status": "dispensed"}, id=f"eq.{paid[0]['id']}")
    assert response.status_code == 200, response.text
    assert response.json()[0]["status"] == "dispensed"
    assert pharmacist.get("/rest/v1/prescriptions", id=f"eq.{paid[0]['id']}").json() == []


def test_pharmacist_cannot_dispense_unpaid(client: httpx.Client, sandbox: Any) -> None:
    pharmacist = login(client, sandbox, "pharmacist", 1)
    approved = pharmacist.get("/rest/v1/prescriptions", status="eq.approved", limit=1).json()
    assert approved
    response = pharmacist.patch("/rest/v1/prescriptions", {"status": "dispensed"}, id=f"eq.{approved[0]['id']}")
    _assert_error(response, 409)


@pytest.mark.parametrize(
    "params",
    [
        {"nope": "eq.1"},
        {"status": "eq.bogus"},
        {"id": "eq.not-a-uuid"},
        {"quantity": "gt.many"},
        {"status": "between.1"},
        {"status": "approved"},
        {"select": "id,secret"},
        {"order": "nope.desc"},
        {"limit": "ten"},
        {"created_at": "gt.yesterday"},
        {"id": "in.(1,2"},
    ],
)
def test_bad_query_is_400_json(client: httpx.Client, sandbox: Any, params: dict[str, str]) -> None:
    patient = login(client, sandbox, "patient", 21)
    _assert_error(patient.get("/rest/v1/prescriptions", **params), 400)


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"medication_id": 42}',
        '{"medication_id": "00000000-0000-0000-0000-000000000000", "quantity": "two"}',
        '{"medication_id": "00000000-0000-0000-0000-000000000000", "colour": "red"}',
        '"just a string"',
    ],
)
def test_bad_insert_body_is_400_json(client: httpx.Client, sandbox: Any, body: str) -> None:
    patient = login(client, sandbox, "patient", 22)
    response = client.post(
        "/rest/v1/prescriptions", content=body, headers=patient.headers(**{"Content-Type": "application/json"})
    )
    _assert_error(response, 400)


def test_unknown_medication_is_rejected_without_500(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 22)
    response = patient.post("/rest/v1/prescriptions", {"medication_id": str(uuid.uuid4())})
    _assert_error(response, 409)


def test_unknown_table_is_404(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 22)
    _assert_error(patient.get("/rest/v1/users"), 404)


def test_prescriptions_need_a_signed_in_user(client: httpx.Client, sandbox: Any) -> None:
    _assert_error(client.get("/rest/v1/prescriptions", headers=api_headers(sandbox.anon_key)), 401)


def test_rest_without_apikey_is_401(client: httpx.Client, sandbox: Any) -> None:
    _assert_error(client.get("/rest/v1/medications"), 401)


def test_delete_is_not_allowed(client: httpx.Client, sandbox: Any) -> None:
    patient = login(client, sandbox, "patient", 22)
    response = client.delete("/rest/v1/prescriptions", params={"id": f"eq.{uuid.uuid4()}"}, headers=patient.headers())
    _assert_error(response, 405)


def test_probe_writes_accept_the_service_key_only(client: httpx.Client, sandbox: Any) -> None:
    run_id = f"contract-{uuid.uuid4()}"
    service = {"apikey": sandbox.service_key, "Authorization": f"Bearer {sandbox.service_key}",
               "Prefer": "return=representation"}
    written = client.post("/rest/v1/probe_writes", json={"seq": 1, "run_id": run_id, "payload": "x"}, headers=service)
    assert written.status_code == 201, written.text
    assert written.json()[0]["acknowledged_at"]
    patient = login(client, sandbox, "patient", 23)
    _assert_error(patient.post("/rest/v1/probe_writes", {"seq": 2, "run_id": run_id}), 403)
    _assert_error(patient.get("/rest/v1/probe_writes", run_id=f"eq.{run_id}"), 403)
    read = client.get("/rest/v1/probe_writes", params={"run_id": f"eq.{run_id}"}, headers=service)
    assert [r["seq"] for r in read.json()] == [1]


def test_probe_write_duplicate_is_409(client: httpx.Client, sandbox: Any) -> None:
    run_id = f"contract-{uuid.uuid4()}"
    service = {"apikey": sandbox.service_key, "Authorization": f"Bearer {sandbox.service_key}"}
    assert client.post("/rest/v1/probe_writes", json={"seq": 1, "run_id": run_id}, headers=service).status_code == 201
    _assert_error(client.post("/rest/v1/probe_writes", json={"seq": 1, "run_id": run_id}, headers=service), 409)
