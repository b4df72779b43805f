"""Patient journeys: see prescriptions, request a renewal, pay (and be declined), follow status live."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from journeys import accounts
from journeys.journey import Journey
from journeys.platform import DECLINED_CARD, SUCCEEDING_CARD


def _ref(prescription_id: str) -> str:
    return prescription_id[:8].upper()


def _row(page: Page, prescription_id: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Prescription {_ref(prescription_id)}"))


def _approved_prescription(journey: Journey, patient_index: int) -> tuple[str, str]:
    """Set up through the API: a fresh renewal approved by the patient's doctor. Returns (patient token, id)."""
    patient = journey.target.account("patient", patient_index)
    token = journey.api.token(patient)
    row = journey.api.request_renewal(token)
    doctor = journey.target.by_user_id(row["doctor_id"])
    journey.api.set_status(journey.api.token(doctor), row["id"], "approved")
    return token, row["id"]


@pytest.mark.smoke
def test_patient_signs_in_and_sees_prescriptions(journey: Journey) -> None:
    page = journey.sign_in("patient", journey.target.account("patient", accounts.SIGNED_IN_PATIENT))
    with journey.step("see prescriptions"):
        expect(page.get_by_role("heading", name="My prescriptions")).to_be_visible()
        table = page.get_by_role("table", name="Prescriptions")
        expect(table.get_by_role("row").nth(1)).to_be_visible()
    with journey.step("open a prescription"):
        table.get_by_role("link").first.click()
        expect(page.get_by_role("heading", name="Summary")).to_be_visible()
        expect(page.get_by_role("list", name="Status history").get_by_role("listitem").first).to_be_visible()
    with journey.step("sign out"):
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    with journey.step("dashboard is closed after sign-out"):
        page.goto("/dashboard")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.mark.full
def test_patient_requests_a_renewal(journey: Journey) -> None:
    page = journey.sign_in("patient", journey.target.account("patient", accounts.RENEWING_PATIENT))
    with journey.step("open the renewal form"):
        page.get_by_role("link", name="Request a renewal").first.click()
        expect(page.get_by_role("heading", name="Request a renewal")).to_be_visible()
    with journey.step("submit the renewal request"):
        page.get_by_label("Quantity").fill("2")
        # typed key by key, as a user types: each key press is an interaction INP counts (docs/journeys.md)
        page.get_by_label("Note for your doctor (optional)").press_sequentially("Synthetic journey check.")
        page.get_by_role("button", name="Request renewal").click()
        expect(page.get_by_role("status").filter(has_text="Renewal requested")).to_be_visible()
    created = page.url.split("requested=", 1)[1]
    with journey.step("see the new request"):
        expect(_row(page, created)).to_contain_text("requested")


@pytest.mark.full
def test_patient_pays_with_a_card(journey: Journey) -> None:
    _, prescription_id = _approved_prescription(journey, accounts.PAYING_PATIENT)
    page = journey.sign_in("patient", journey.target.account("patient", accounts.PAYING_PATIENT))
    with journey.step("open checkout"):
        page.get_by_role("link", name=f"Pay for Rx {_ref(prescription_id)}").click()
        expect(page.get_by_role("heading", name=f"Pay for prescription {_ref(prescription_id)}")).to_be_visible()
    with journey.step("pay with a card"):
        page.get_by_label("Card number").fill(SUCCEEDING_CARD)
        page.get_by_role("button", name="Pay now").click()
        expect(page.get_by_role("status").filter(has_text="Payment complete")).to_be_visible(timeout=20_000)
    with journey.step("see it paid"):
        page.get_by_role("link", name="Back to my prescriptions").click()
        expect(_row(page, prescription_id)).to_contain_text("paid")


@pytest.mark.full
def test_patient_sees_a_clear_message_when_the_card_is_declined(journey: Journey) -> None:
    token, prescription_id = _approved_prescription(journey, accounts.DECLINED_PATIENT)
    page = journey.sign_in("patient", journey.target.account("patient", accounts.DECLINED_PATIENT))
    with journey.step("open checkout"):
        page.goto(f"/checkout/{prescription_id}")
    with journey.step("pay with a declined card"):
        page.get_by_label("Card number").fill(DECLINED_CARD)
        page.get_by_role("button", name="Pay now").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Payment declined")
        expect(alert).to_contain_text("Try another card")
        expect(page.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("button", name="Pay now")).to_be_enabled()
    assert journey.api.prescriptions(token, id=f"eq.{prescription_id}")[0]["status"] == "approved"
