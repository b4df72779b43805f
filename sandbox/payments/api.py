"""HTTP surface of the stub: Stripe-shaped `/v1` routes behind the chaos switches, and `/_control`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.payments.errors import StripeError, invalid_request
from sandbox.payments.forms import Params, decode
from sandbox.payments.idempotency import IdempotencyCache
from sandbox.payments.intents import Outcome, PaymentStore, new_id
from sandbox.payments.webhooks import WebhookDispatcher, event

_OUTAGE_MODES = ("error", "refuse")
_MAX_LATENCY_MS = 120_000

# Closes the client connection of an ASGI scope abruptly; False when it cannot (then outages answer 503).
AbortConnection = Callable[[Any], bool]


@dataclass
class Switches:
    """Chaos switches: `outage` answers every /v1 request 503 (mode "error") or cuts its connection
    (mode "refuse"); `latency_ms` delays every /v1 response; `webhooks` false stops event delivery."""

    outage: bool = False
    outage_mode: str = "error"
    latency_ms: int = 0
    webhooks: bool = True

    def update(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        known = {field.name for field in fields(self)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown switch {unknown[0]!r}; known: {', '.join(sorted(known))}")
        for name in ("outage", "webhooks"):
            if name in body and not isinstance(body[name], bool):
                raise ValueError(f"{name} must be true or false")
        if "outage_mode" in body and body["outage_mode"] not in _OUTAGE_MODES:
            raise ValueError(f"outage_mode must be one of {', '.join(_OUTAGE_MODES)}")
        latency = body.get("latency_ms", 0)
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= _MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be an integer from 0 to {_MAX_LATENCY_MS}")
        for name, value in body.items():
            setattr(self, name, value)


def build_app(
    secret_key: str,
    store: PaymentStore,
    dispatcher: WebhookDispatcher,
    *,
    abort_connection: AbortConnection | None = None,
) -> Starlette:
    switches = Switches()
    idempotency = IdempotencyCache()

    async def gate(request: Request) -> None:
        """Apply the chaos switches and authentication; a response here ends the request."""
        if switches.latency_ms:
            await asyncio.sleep(switches.latency_ms / 1000)
        if switches.outage:
            if switches.outage_mode == "refuse" and abort_connection and abort_connection(request.scope.get("client")):
                for _ in range(3):
                    await asyncio.sleep(0)  # let the server see the connection gone, so it sends nothing
            raise StripeError(
                503, "api_error", "The payment provider is temporarily unavailable (sandbox outage). Retry later."
            )
        _authenticate(request, secret_key)

    async def post(request: Request, action: Callable[[Params], Outcome]) -> Response:
        await gate(request)
        params, pairs = decode(await request.body())
        key = request.headers.get("idempotency-key")
        fingerprint = (request.method, request.url.path, pairs)
        if key:
            saved = idempotency.lookup(secret_key, key, fingerprint)
            if saved is not None:
                return _json(saved.body, saved.status, {"Idempotency-Key": key, "Idempotent-Replayed": "true"})
        outcome = action(params)
        status, body = (outcome.error.status, outcome.error.to_json()) if outcome.error else (200, outcome.intent)
        if outcome.event_type:
            dispatcher.emit(event(outcome.event_type, outcome.intent, idempotency_key=key))
        if key:
            idempotency.save(secret_key, key, fingerprint, status, body)
        return _json(body, status, {"Idempotency-Key": key} if key else {})

    async def create_intent(request: Request) -> Response:
        return await post(request, store.create)

    async def confirm_intent(request: Request) -> Response:
        return await post(request, lambda params: store.confirm(request.path_params["intent"], params))

    async def cancel_intent(request: Request) -> Response:
        return await post(request, lambda params: store.cancel(request.path_params["intent"], params))

    async def get_intent(request: Request) -> Response:
        await gate(request)
        return _json(store.get(request.path_params["intent"]), 200)

    async def unknown_v1(request: Request) -> Response:
        await gate(request)
        raise invalid_request(f"Unrecognized request URL ({request.method}: {request.url.path}).", status=404)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "intents": len(store), "pending_webhooks": dispatcher.pending})

    async def metrics(_: Request) -> Response:
        text = ("# HELP rx_payments_intents Payment intents held.\n# TYPE rx_payments_intents gauge\n"
                f"rx_payments_intents {len(store)}\n"
                "# HELP rx_payments_pending_webhooks Webhooks not yet delivered.\n"
                f"# TYPE rx_payments_pending_webhooks gauge\nrx_payments_pending_webhooks {dispatcher.pending}\n")
        return Response(text, media_type="text/plain; version=0.0.4")

    async def control_show(_: Request) -> Response:
        return JSONResponse(asdict(switches))

    async def control_update(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            switches.update(body)
        except ValueError as exc:
            return JSONResponse({"error": f"/_control: {exc}"}, status_code=400)
        dispatcher.enabled = switches.webhooks
        return JSONResponse(asdict(switches))

    async def control_reset(_: Request) -> Response:
        switches.update(asdict(Switches()))
        dispatcher.enabled = switches.webhooks
        return JSONResponse(asdict(switches))

    async def control_webhooks(_: Request) -> Response:
        return JSONResponse({"pending": dispatcher.pending, "deliveries": dispatcher.history()})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/_control", control_show, methods=["GET"]),
        Route("/_control", control_update, methods=["POST"]),
        Route("/_control/reset", control_reset, methods=["POST"]),
        Route("/_control/webhooks", control_webhooks, methods=["GET"]),
        Route("/v1/payment_intents", create_intent, methods=["POST"]),
        Route("/v1/payment_intents/{intent}", get_intent, methods=["GET"]),
        Route("/v1/payment_intents/{intent}/confirm", confirm_intent, methods=["POST"]),
        Route("/v1/payment_intents/{intent}/cancel", cancel_intent, methods=["POST"]),
        Route("/v1/{path:path}", unknown_v1, methods=methods),
    ]
    return Starlette(routes=routes, exception_handlers={StripeError: _stripe_error})


def _authenticate(request: Request, secret_key: str) -> None:
    """Stripe takes the key as a Bearer token or as the Basic-auth user name."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not hmac.compare_digest(key.encode(), secret_key.encode()):
        shown = f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else "****"
        raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {shown}")


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers={"Request-Id": new_id("req"), **(headers or {})})


async def _stripe_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StripeError)
    return _json(exc.to_json(), exc.status)
