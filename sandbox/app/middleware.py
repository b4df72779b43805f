"""The outermost ASGI layer: caller resolution, rate limiting, security headers, accounting, last-resort errors.

It wraps the whole FastAPI app (outside Starlette's own error middleware), so even a crash's 500 carries the
security headers and is counted and logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.app import cors
from sandbox.app.context import client_address
from sandbox.app.identity import SCOPE_KEY, resolve_caller
from sandbox.app.metrics import CONTENT_TYPE, METRICS_PATH, AppMetrics
from sandbox.app.observability import AccessLog, RequestStats, monotonic_ms
from sandbox.app.ratelimit import TokenBuckets
from sandbox.app.settings import Settings

_log = logging.getLogger("sandbox.app")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
]
_SECURITY_NAMES = {name for name, _ in SECURITY_HEADERS}
RATE_LIMIT_EXEMPT = ("/health",)


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        stats: RequestStats,
        access_log: AccessLog | None,
        routes: list[BaseRoute],
        metrics: AppMetrics | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.settings = settings
        self.stats = stats
        self.access_log = access_log
        self.metrics = metrics
        self.user_buckets = TokenBuckets(settings.rate_per_user_rps, settings.rate_per_user_burst)
        self.address_buckets = TokenBuckets(settings.rate_per_address_rps, settings.rate_per_address_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.metrics is not None and scope["type"] == "http" and scope["path"] == METRICS_PATH:
            body = self.metrics.exposition()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", CONTENT_TYPE.encode()),
                                    (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
            await send({"type": "http.response.body", "body": body})
            return
        headers = _headers(scope)
        api_key = headers.get("apikey")
        if api_key is None and scope["type"] == "websocket":
            api_key = _query_value(scope, "apikey")
        scope[SCOPE_KEY] = resolve_caller(self.settings, api_key, headers.get("authorization"))
        if scope["type"] == "websocket":
            await self.app(scope, receive, _with_security_headers(send))
            return
        await self._http(scope, receive, send, headers)

    async def _http(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        started = monotonic_ms()
        status_holder = [0]

        api = cors.is_api(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                raw = [h for h in message.get("headers", []) if h[0].lower() not in _SECURITY_NAMES]
                message = {**message, "headers": raw + SECURITY_HEADERS + (cors.RESPONSE_HEADERS if api else [])}
            await send(message)

        try:
            if api and scope["method"] == "OPTIONS":  # a browser's CORS preflight: no key, no rate limit
                scope["route"] = self._match_route({**scope, "method": "GET"})
                await send_with_headers({"type": "http.response.start", "status": 204,
                                         "headers": cors.PREFLIGHT_HEADERS})
                await send_with_headers({"type": "http.response.body", "body": b""})
                return
            retry_after = self._rate_limit(scope, headers)
            if retry_after:
                scope["route"] = self._match_route(scope)
                await _send_json(send_with_headers, 429, _rate_limited_body(), {"retry-after": str(retry_after)})
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            _log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status_holder[0] == 0:
                body = {"code": "internal_error", "message": "internal error", "details": None, "hint": None}
                await _send_json(send_with_headers, 500, body, {})
        finally:
            self._account(scope, status_holder[0] or 500, monotonic_ms() - started)

    def _rate_limit(self, scope: Scope, headers: dict[str, str]) -> int:
        if scope["path"] in RATE_LIMIT_EXEMPT:
            return 0
        wait = self.address_buckets.take(client_address(scope))
        caller = scope[SCOPE_KEY]
        if caller.user_id is not None:
            wait = max(wait, self.user_buckets.take(str(caller.user_id)))
        return wait

    def _match_route(self, scope: Scope) -> BaseRoute | None:
        """The route a rejected request was aimed at, so 429s are counted under their route template."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return route
        return None

    def _account(self, scope: Scope, status: int, duration_ms: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        method = scope["method"]
        self.stats.record(method, template, status)
        if self.metrics is not None:
            self.metrics.record(method, template, status, duration_ms / 1000.0)
        if self.access_log is not None:
            self.access_log.record(
                method=method, route=template, path=scope["path"], status=status, duration_ms=duration_ms
            )


def _with_security_headers(send: Send) -> Send:
    """Websocket handshakes (accepted or denied) get the same headers as HTTP responses."""

    async def wrapped(message: Message) -> None:
        if message["type"] in ("websocket.accept", "websocket.http.response.start"):
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return wrapped


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def _query_value(scope: Scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _rate_limited_body() -> dict[str, Any]:
    return {
        "code": "over_rate_limit",
        "message": "too many requests",
        "details": None,
        "hint": "slow down and retry after the number of seconds in the Retry-After header",
    }


async def _send_json(send: Send, status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
