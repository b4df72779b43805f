"""Security smoke: no page without a session, no other patient's data, security headers on every page.

Read-only, so safe in production.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from journeys import accounts
from journeys.journey import Journey

pytestmark = pytest.mark.smoke

def test_pages_redirect_to_sign_in_without_session(journey: Journey) -> None:
    page = journey.open("visitor")
    someone = str(uuid.uuid4())
    for path in ("/", "/dashboard", "/renewals/new", f"/prescriptions/{someone}", f"/checkout/{someone}",
                 "/doctor/queue", "/pharmacy/queue"):
        with journey.step(f"open {path} signed out"):
            page.goto(path)
            expect(page).to_have_url(f"{journey.target.base_url}/sign-in")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_patient_cannot_open_another_patients_prescription(journey: Journey) -> None:
    other = journey.target.account("patient", accounts.OTHER_PATIENT)
    other_token = journey.api.token(other)
    theirs = journey.api.prescriptions(other_token, select="id", limit="1")[0]["id"]
    patient = journey.target.account("patient", accounts.PRYING_PATIENT)
    page = journey.sign_in("patient", patient)
    for path in (f"/prescriptions/{theirs}", f"/checkout/{theirs}"):
        with journey.step(f"open another patient's {path.split('/')[1]} page"):
            response = page.goto(path)
            assert response is not None and response.status == 404
            expect(page.get_by_role("heading", name="Prescription not found")).to_be_visible()
            expect(page.locator("main")).not_to_contain_text(theirs[:8].upper())
    with journey.step("read another patient's prescription through the API"):
        token = journey.api.token(patient)
        assert journey.api.prescriptions(token, id=f"eq.{theirs}") == []
        assert journey.api.get(token, "/rest/v1/prescription_events", prescription_id=f"eq.{theirs}") == []


def test_security_headers_on_every_page(journey: Journey) -> None:
    """Every journey checks the headers of every page it opens (the journey fixture); this one makes sure the
    pages no other smoke journey opens are covered too: sign-in, a redirect, the renewal form, checkout, and the
    not-found page. Doctor and pharmacy queues: care-team-queues-open."""
    page = journey.open("patient")
    with journey.step("open the sign-in page"):
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    journey.sign_in("patient", journey.target.account("patient", accounts.HEADERS_PATIENT), page)
    with journey.step("open the renewal form"):
        page.get_by_role("link", name="Request a renewal").first.click()
        expect(page.get_by_role("heading", name="Request a renewal")).to_be_visible()
    with journey.step("open a checkout page"):
        page.goto(f"/checkout/{uuid.uuid4()}")
        expect(page.get_by_role("heading", name="Prescription not found")).to_be_visible()
    pages = {urlparse(document["url"]).path for document in journey.documents("patient")}
    assert {"/", "/sign-in", "/dashboard", "/renewals/new"} <= pages, pages
    assert not journey.missing_security_headers()
