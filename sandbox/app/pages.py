"""Server-rendered pages for the browser journeys: sign-in, the patient's prescriptions with live status, renewal
request, checkout, the doctor's and the pharmacy's queues, a prescription's detail page and sign-out.

The session cookie holds the access token (HttpOnly, SameSite=Lax), so a page request is authorised exactly
like an API call. Pages that talk to the API from the browser (live status over Realtime, checkout through the
payment functions) receive the anon key and the access token in ``<meta>`` tags, as a Supabase client would hold
them; those pages are never cached. Forms post back to the page routes (same-origin, SameSite cookie).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sandbox.app import page_queries
from sandbox.app.auth import password_sign_in, revoke_sessions
from sandbox.app.context import client_address, services
from sandbox.app.errors import ApiError
from sandbox.app.identity import Caller, caller_from_token
from sandbox.app.routing import Routes

router = Routes()
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

SESSION_COOKIE = "rx_session"
HOME_BY_ROLE = {"patient": "/dashboard", "doctor": "/doctor/queue", "pharmacist": "/pharmacy/queue"}
ROLE_NAMES = {"patient": "patients", "doctor": "doctors", "pharmacist": "pharmacists"}
MAX_QUANTITY = 1000
MAX_NOTES = 1000
_QUANTITY = re.compile(r"[0-9]{1,4}")  # ASCII only: str.isdigit() accepts "²", which int() refuses
_SIGN_IN_FAILURES = {
    400: ("Email or password is incorrect.", 401),
    429: ("Too many failed attempts. Wait a minute, then try again.", 429),
}


def session_caller(request: Request) -> Caller | None:
    """The signed-in user of a page request, or None when the cookie is missing, expired or tampered."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    who = caller_from_token(services(request).settings, token, api_key_ok=True)
    return None if who.error else who


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_keys(request: Request) -> dict[str, str]:
    """What the page's scripts need to call the API as the signed-in user."""
    return {
        "anon_key": services(request).settings.anon_key,
        "access_token": request.cookies.get(SESSION_COOKIE, ""),
    }


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/sign-in", status_code=303)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _problem(request: Request, who: Caller | None, status: int, title: str, message: str) -> Response:
    return render(request, "problem.html", {"who": who, "title": title, "message": message}, status)


def _unavailable(request: Request, who: Caller) -> Response:
    return _problem(request, who, 503, "Temporarily unavailable", "This page is unavailable right now; try again.")


def _not_found(request: Request, who: Caller | None) -> Response:
    return _problem(request, who, 404, "Prescription not found",
                    "There is no prescription of yours with this reference.")


def _wrong_role(request: Request, who: Caller, role: str) -> Response:
    return _problem(request, who, 403, "Not available", f"This page is for {ROLE_NAMES[role]}.")


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _prescription_id(request: Request) -> uuid.UUID | None:
    return _as_uuid(request.path_params["prescription_id"])


async def _signed_in(request: Request, role: str | None = None) -> tuple[Caller | None, Response | None]:
    """The caller, or the response to send instead (sign-in redirect, wrong-role page)."""
    who = session_caller(request)
    if who is None:
        return None, _to_sign_in()
    if role is not None and who.rx_role != role:
        return who, _wrong_role(request, who, role)
    return who, None


@router.get("/")
async def home(request: Request) -> Response:
    who = session_caller(request)
    return _redirect(HOME_BY_ROLE.get(who.rx_role or "", "/dashboard")) if who else _to_sign_in()


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return render(request, "sign_in.html", {"error": None, "email": "", "who": None})


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    if not email or not password:
        return render(request, "sign_in.html",
                      {"error": "Enter your email and password.", "email": email, "who": None}, 400)
    svc = services(request)
    try:
        session = await password_sign_in(svc, email, password, client_address(request.scope))
    except ApiError as exc:
        message, status = _SIGN_IN_FAILURES.get(exc.status, ("Sign-in is unavailable; try again.", 503))
        response = render(request, "sign_in.html", {"error": message, "email": email, "who": None}, status)
        if "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    role = (session.get("user") or {}).get("app_metadata", {}).get("rx_role", "patient")
    response = _redirect(HOME_BY_ROLE.get(role, "/dashboard"))
    response.set_cookie(
        SESSION_COOKIE,
        session["access_token"],
        max_age=svc.settings.access_token_ttl_s,
        httponly=True,
        samesite="lax",
        path="/",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    who = session_caller(request)
    if who is not None:
        with contextlib.suppress(ApiError):
            await revoke_sessions(services(request), who.user_id)
    response = _to_sign_in()
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    who, refusal = await _signed_in(request)
    if refusal is not None:
        return refusal
    assert who is not None
    if who.rx_role != "patient":
        return _redirect(HOME_BY_ROLE.get(who.rx_role or "", "/sign-in"))
    try:
        rows = await page_queries.prescriptions(services(request).db, who)
    except ApiError:
        return _unavailable(request, who)
    notice = "Renewal requested. Your doctor will review it." if request.query_params.get("requested") else None
    return render(request, "dashboard.html", {"who": who, "rows": rows, "notice": notice, **_client_keys(request)})


@router.get("/prescriptions/{prescription_id}")
async def prescription_detail(request: Request) -> Response:
    who, refusal = await _signed_in(request)
    if refusal is not None:
        return refusal
    assert who is not None
    rx_id = _prescription_id(request)
    if rx_id is None:
        return _not_found(request, who)
    try:
        row = await page_queries.prescription(services(request).db, who, rx_id)
    except ApiError:
        return _unavailable(request, who)
    if row is None:
        return _not_found(request, who)
    return render(request, "prescription.html", {"who": who, "rx": row, **_client_keys(request)})


@router.get("/renewals/new")
async def renewal_form(request: Request) -> Response:
    who, refusal = await _signed_in(request, "patient")
    if refusal is not None:
        return refusal
    assert who is not None
    try:
        medications = await page_queries.renewable_medications(services(request).db, who)
    except ApiError:
        return _unavailable(request, who)
    return render(request, "renewal.html", {"who": who, "medications": medications, "error": None})


@router.post("/renewals")
async def request_renewal(request: Request) -> Response:
    who, refusal = await _signed_in(request, "patient")
    if refusal is not None:
        return refusal
    assert who is not None
    form = await request.form()
    db = services(request).db
    medication_id = _as_uuid(str(form.get("medication_id", "")))
    quantity_text = str(form.get("quantity", "1")).strip()
    quantity = int(quantity_text) if _QUANTITY.fullmatch(quantity_text) else 0
    notes = str(form.get("notes", "")).strip().replace("\x00", "") or None
    error = None
    if medication_id is None:
        error = "Choose the medication to renew."
    elif not 1 <= quantity <= MAX_QUANTITY:
        error = f"Quantity must be a whole number from 1 to {MAX_QUANTITY}."
    elif notes is not None and len(notes) > MAX_NOTES:
        error = f"The note may be at most {MAX_NOTES} characters."
    if error is None and medication_id is not None:
        try:
            created = await page_queries.request_renewal(db, who, medication_id, quantity, notes)
        except ApiError as exc:
            if exc.status != 404:
                return _unavailable(request, who)
            error = "You can only renew a medication you have been prescribed."
        else:
            return _redirect(f"/dashboard?requested={created}")
    try:
        medications = await page_queries.renewable_medications(db, who)
    except ApiError:
        return _unavailable(request, who)
    return render(request, "renewal.html", {"who": who, "medications": medications, "error": error}, 400)


@router.get("/checkout/{prescription_id}")
async def checkout(request: Request) -> Response:
    who, refusal = await _signed_in(request, "patient")
    if refusal is not None:
        return refusal
    assert who is not None
    rx_id = _prescription_id(request)
    try:
        row = await page_queries.prescription(services(request).db, who, rx_id) if rx_id else None
    except ApiError:
        return _unavailable(request, who)
    if row is None:
        return _not_found(request, who)
    return render(request, "checkout.html", {"who": who, "rx": row, **_client_keys(request)})


@router.get("/doctor/queue")
async def doctor_queue(request: Request) -> Response:
    return await _queue(request, "doctor", "requested", "doctor_queue.html")


@router.post("/doctor/prescriptions/{prescription_id}/decision")
async def doctor_decision(request: Request) -> Response:
    form = await request.form()
    decision = str(form.get("decision", ""))
    return await _decide(request, "doctor", decision, "/doctor/queue", "doctor_queue.html")


@router.get("/pharmacy/queue")
async def pharmacy_queue(request: Request) -> Response:
    return await _queue(request, "pharmacist", "paid", "pharmacy_queue.html")


@router.post("/pharmacy/prescriptions/{prescription_id}/dispense")
async def pharmacy_dispense(request: Request) -> Response:
    return await _decide(request, "pharmacist", "dispensed", "/pharmacy/queue", "pharmacy_queue.html")


async def _queue(request: Request, role: str, status: str, template: str, *, notice: str | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    who, refusal = await _signed_in(request, role)
    if refusal is not None:
        return refusal
    assert who is not None
    patient = request.query_params.get("patient", "").strip()
    try:
        rows = await page_queries.prescriptions(services(request).db, who, status=status, patient_email=patient,
                                                oldest_first=True)
    except ApiError:
        return _unavailable(request, who)
    done = request.query_params.get("done")
    if notice is None and done in ("approved", "rejected", "dispensed"):
        notice = f"Prescription {request.query_params.get('ref', '')} {done}.".replace("  ", " ")
    context = {"who": who, "rows": rows, "patient": patient, "notice": notice, "error": error}
    return render(request, template, context, status_code)


async def _decide(request: Request, role: str, decision: str, back: str, template: str) -> Response:
    who, refusal = await _signed_in(request, role)
    if refusal is not None:
        return refusal
    assert who is not None
    rx_id = _prescription_id(request)
    if rx_id is None:
        return _not_found(request, who)
    try:
        await page_queries.decide(services(request).db, who, rx_id, decision)
    except ApiError as exc:
        if exc.status >= 500:
            return _unavailable(request, who)
        return await _queue(request, role, "requested" if role == "doctor" else "paid", template,
                            error=f"Prescription {str(rx_id)[:8].upper()} could not be changed: {exc.message}.",
                            status_code=exc.status)
    return _redirect(f"{back}?done={decision}&ref={str(rx_id)[:8].upper()}")
