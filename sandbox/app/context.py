"""Per-process services shared by the routers, kept on ``app.state.services``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from starlette.types import Scope

from sandbox.app.body import JsonRefused, parse_json, read_body
from sandbox.app.db import Database
from sandbox.app.errors import bad_request
from sandbox.app.identity import SCOPE_KEY, Caller
from sandbox.app.observability import AccessLog, RequestStats
from sandbox.app.settings import Settings

if TYPE_CHECKING:
    from sandbox.app.health import HealthProbe
    from sandbox.app.payments_client import PaymentProvider
    from sandbox.app.realtime import RealtimeHub
    from sandbox.app.throttle import SignInThrottle


@dataclass
class Services:
    settings: Settings
    db: Database
    stats: RequestStats
    access_log: AccessLog | None
    health: HealthProbe
    payments: PaymentProvider
    realtime: RealtimeHub
    sign_in_throttle: SignInThrottle


def services(connection: HTTPConnection) -> Services:
    return connection.app.state.services


def caller(connection: HTTPConnection) -> Caller:
    return connection.scope[SCOPE_KEY]


def client_address(scope: Scope) -> str:
    """The client's address: the last X-Forwarded-For entry (the one the edge proxy appended, which a client cannot
    forge), else the socket peer."""
    for name, value in scope["headers"]:
        if name.lower() == b"x-forwarded-for":
            return value.decode("latin-1").rsplit(",", 1)[-1].strip() or "unknown"
    client = scope.get("client")
    return client[0] if client else "unknown"


async def json_body(request: Request) -> Any:
    """The request's JSON body, or a 400 (413 when too large) that says what is wrong with it."""
    raw = await read_body(request)
    if not raw.strip():
        raise bad_request("request body is empty; send a JSON document", code="PGRST102")
    try:
        return parse_json(raw)
    except JsonRefused as exc:
        raise bad_request(f"invalid JSON body: {exc}", code="PGRST102", hint="send valid JSON") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("the JSON body must be an object", code="PGRST102")
    return body
