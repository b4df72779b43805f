"""Server-rendered pages for the browser journeys: sign-in and the patient dashboard.

The session cookie holds the access token (HttpOnly, SameSite=Lax), so a page request is authorised exactly
like an API call. New pages add a route here and a template in ``templates/``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from psycopg import sql
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sandbox.app.auth import password_sign_in, revoke_sessions
from sandbox.app.context import services
from sandbox.app.db import Conn
from sandbox.app.errors import ApiError
from sandbox.app.identity import Caller, caller_from_token
from sandbox.app.policies import prescription_rule
from sandbox.app.routing import Routes

router = Routes()
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

SESSION_COOKIE = "rx_session"
DASHBOARD_ROWS = 50


def session_caller(request: Request) -> Caller | None:
    """The signed-in user of a page request, or None when the cookie is missing, expired or tampered."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    who = caller_from_token(services(request).settings, token, api_key_ok=True)
    return None if who.error else who


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/sign-in", status_code=303)


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=303) if session_caller(request) else _to_sign_in()


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return render(request, "sign_in.html", {"error": None, "email": ""})


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    if not email or not password:
        return render(request, "sign_in.html", {"error": "Enter your email and password.", "email": email}, 400)
    svc = services(request)
    try:
        session = await password_sign_in(svc, email, password)
    except ApiError as exc:
        message = "Email or password is incorrect." if exc.status == 400 else "Sign-in is unavailable; try again."
        return render(request, "sign_in.html", {"error": message, "email": email}, 401 if exc.status == 400 else 503)
    response = RedirectResponse("/dashboard", status_code=303)
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
    who = session_caller(request)
    if who is None:
        return _to_sign_in()
    rule, params = prescription_rule(who, "p")
    statement = sql.SQL(
        "SELECT p.id, p.status, p.quantity, p.created_at, m.name, m.form, m.strength FROM prescriptions p"
        " JOIN medications m ON m.id = p.medication_id WHERE {} ORDER BY p.created_at DESC LIMIT %s"
    ).format(rule)

    async def load(conn: Conn) -> list[dict[str, Any]]:
        cursor = await conn.execute(statement, [*params, DASHBOARD_ROWS])
        return await cursor.fetchall()

    try:
        rows = await services(request).db.read(load)
    except ApiError:
        return render(request, "dashboard.html", {"who": who, "rows": [], "unavailable": True}, 503)
    return render(request, "dashboard.html", {"who": who, "rows": rows, "unavailable": False})
