"""Doctor and pharmacist journeys, with the patient's open page following every decision live (Realtime)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from journeys import accounts
from journeys.journey import Journey

LIVE_TIMEOUT_MS = 10_000


def _ref(prescription_id: str) -> str:
    return prescription_id[:8].upper()


def _watch_dashboard(journey: Journey, patient_index: int, prescription_id: str) -> Page:
    """The patient's dashboard, open with live updates connected and a marker that a reload would erase."""
    page = journey.sign_in("patient", journey.target.account("patient", patient_index))
    with journey.step("patient: live updates connect"):
        expect(page.locator("#live-state")).to_have_attribute("data-live", "connected")
        expect(_status(page, prescription_id)).to_be_visible()
    page.evaluate("() => { window.__rxNotReloaded = true; }")
    return page


def _status(page: Page, prescription_id: str) -> Locator:
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Prescription {_ref(prescription_id)}"))
    return row.locator("[data-status]")


def _same_document(page: Page) -> bool:
    return page.evaluate("() => window.__rxNotReloaded === true")


@pytest.mark.smoke
def test_care_team_queues_open(journey: Journey) -> None:
    doctor = journey.sign_in("doctor", journey.target.account("doctor", accounts.QUEUE_DOCTOR))
    with journey.step("doctor: see the review queue"):
        expect(doctor.get_by_role("heading", name="Renewal requests to review")).to_be_visible()
        expect(doctor.get_by_role("search", name="Find a patient")).to_be_visible()
    pharmacist = journey.sign_in("pharmacist", journey.target.account("pharmacist", accounts.PHARMACIST))
    with journey.step("pharmacist: see the pharmacy queue"):
        expect(pharmacist.get_by_role("heading", name="Paid prescriptions to dispense")).to_be_visible()
        # the queue is open whether paid prescriptions wait (a staging after a load run may have none)
        waiting = pharmacist.get_by_role("table", name="Prescriptions to dispense")
        expect(waiting.or_(pharmacist.get_by_text("No paid prescriptions are waiting."))).to_be_visible()


@pytest.mark.full
def test_doctor_approves_and_the_patients_page_updates_live(journey: Journey) -> None:
    token = journey.api.token(journey.target.account("patient", accounts.APPROVED_PATIENT))
    renewal = journey.api.request_renewal(token)
    patient = _watch_dashboard(journey, accounts.APPROVED_PATIENT, renewal["id"])
    expect(_status(patient, renewal["id"])).to_have_text("requested")
    doctor = journey.sign_in("doctor", journey.target.by_user_id(renewal["doctor_id"]))
    with journey.step("doctor: approve the renewal"):
        doctor.get_by_role("button", name=f"Approve prescription {_ref(renewal['id'])}").click()
        expect(doctor.get_by_role("status")).to_contain_text(f"{_ref(renewal['id'])} approved")
    with journey.step("patient: sees the approval without reloading"):
        expect(_status(patient, renewal["id"])).to_have_text("approved", timeout=LIVE_TIMEOUT_MS)
        expect(patient.get_by_role("link", name=f"Pay for Rx {_ref(renewal['id'])}")).to_be_visible()
        expect(patient.locator("#live-announcer")).to_contain_text("is now approved")
    assert _same_document(patient), "the patient's page reloaded instead of updating live"


@pytest.mark.full
def test_doctor_rejects_a_renewal(journey: Journey) -> None:
    token = journey.api.token(journey.target.account("patient", accounts.REJECTED_PATIENT))
    renewal = journey.api.request_renewal(token)
    doctor = journey.sign_in("doctor", journey.target.by_user_id(renewal["doctor_id"]))
    with journey.step("doctor: reject the renewal"):
        doctor.get_by_role("button", name=f"Reject prescription {_ref(renewal['id'])}").click()
        expect(doctor.get_by_role("status")).to_contain_text(f"{_ref(renewal['id'])} rejected")
        expect(doctor.get_by_role("button", name=f"Reject prescription {_ref(renewal['id'])}")).to_have_count(0)
    assert journey.api.prescriptions(token, id=f"eq.{renewal['id']}")[0]["status"] == "rejected"


@pytest.mark.full
def test_pharmacist_dispenses_and_the_patient_sees_it(journey: Journey) -> None:
    patient_account = journey.target.account("patient", accounts.DISPENSED_PATIENT)
    token = journey.api.token(patient_account)
    renewal = journey.api.request_renewal(token)
    journey.api.set_status(journey.api.token(journey.target.by_user_id(renewal["doctor_id"])), renewal["id"],
                           "approved")
    journey.api.pay(token, renewal["id"])
    patient = _watch_dashboard(journey, accounts.DISPENSED_PATIENT, renewal["id"])
    pharmacist = journey.sign_in("pharmacist", journey.target.account("pharmacist", accounts.PHARMACIST))
    with journey.step("pharmacist: find the patient"):
        pharmacist.get_by_label("Patient email").fill(patient_account.email)
        pharmacist.get_by_role("button", name="Find").click()
        expect(pharmacist.get_by_role("button", name=f"Dispense prescription {_ref(renewal['id'])}")).to_be_visible()
    with journey.step("pharmacist: dispense"):
        pharmacist.get_by_role("button", name=f"Dispense prescription {_ref(renewal['id'])}").click()
        expect(pharmacist.get_by_role("status")).to_contain_text(f"{_ref(renewal['id'])} dispensed")
    with journey.step("patient: sees it dispensed without reloading"):
        expect(_status(patient, renewal["id"])).to_have_text("dispensed", timeout=LIVE_TIMEOUT_MS)
    assert _same_document(patient), "the patient's page reloaded instead of updating live"
