"""Per-process services shared by the routers, kept on ``app.state.services``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request

from sandbox.app.db import Database
from sandbox.app.errors import ApiError, bad_request
from sandbox.app.identity import SCOPE_KEY, Caller
from sandbox.app.observability import AccessLog, RequestStats
from sandbox.app.settings import Settings

MAX_BODY_BYTES = 1_000_000

if TYPE_CHECKING:
    from sandbox.app.health import HealthProbe
    from sandbox.app.payments_client import PaymentProvider
    from sandbox.app.realtime import RealtimeHub


@dataclass
class Services:
    settings: Settings
    db: Database
    stats: RequestStats
    access_log: AccessLog | None
    health: HealthProbe
    payments: PaymentProvider
    realtime: RealtimeHub


def services(connection: HTTPConnection) -> Services:
    return connection.app.state.services


def caller(connection: HTTPConnection) -> Caller:
    return connection.scope[SCOPE_KEY]


async def json_body(request: Request) -> Any:
    """The request's JSON body, or a 400 that says what is wrong with it."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "PGRST413", f"request body too large or length invalid (limit {MAX_BODY_BYTES} bytes)")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "PGRST413", f"request body too large (limit {MAX_BODY_BYTES} bytes)")
    if not raw.strip():
        raise bad_request("request body is empty; send a JSON document", code="PGRST102")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON body: {exc}", code="PGRST102", hint="send valid JSON") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("the JSON body must be an object", code="PGRST102")
    return body
