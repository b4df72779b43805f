"""Edge Functions: create and confirm a payment intent with the provider, and receive its signed webhooks.

The webhook is the only path that marks a prescription paid (as with Stripe, confirmation alone is not proof);
it is idempotent, so a redelivered event changes nothing.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.app import webhook_signature
from sandbox.app.body import JsonRefused, parse_json, read_body
from sandbox.app.context import Services, caller, json_object, services
from sandbox.app.db import Conn
from sandbox.app.errors import ApiError, bad_request, conflict, not_found
from sandbox.app.payments_client import ProviderReply, ProviderUnavailable
from sandbox.app.routing import Routes

router = Routes("/functions/v1")
_log = logging.getLogger("sandbox.app.functions")
_CARD_NUMBER = re.compile(r"^[0-9]{12,19}$")
_INTENT_ID = re.compile(r"^[A-Za-z0-9_]{1,128}$")


def _provider_down(exc: ProviderUnavailable) -> ApiError:
    return ApiError(
        503,
        "payment_provider_unavailable",
        "the payment provider is unavailable; retry shortly",
        details=str(exc),
        headers={"Retry-After": "2"},
    )


def _provider_rejected(reply: ProviderReply) -> ApiError:
    error = reply.body["error"] if isinstance(reply.body.get("error"), dict) else {}
    return ApiError(
        502,
        "payment_provider_error",
        f"the payment provider rejected the request: {error.get('message', reply.status_code)}",
        details=error or None,
    )


@router.post("/create-payment-intent")
async def create_payment_intent(request: Request) -> JSONResponse:
    who = caller(request).require_role("patient")
    body = await json_object(request)
    prescription_id = body.get("prescription_id")
    if not isinstance(prescription_id, str):
        raise bad_request("'prescription_id' is required (a UUID string)")
    try:
        rx_id = uuid.UUID(prescription_id)
    except ValueError:
        raise bad_request(f"'prescription_id' must be a UUID, got {prescription_id!r}", code="22P02") from None
    svc = services(request)

    async def lookup(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "SELECT p.id, p.status, p.quantity * m.price_cents AS amount FROM prescriptions p"
            " JOIN medications m ON m.id = p.medication_id WHERE p.id = %s AND p.patient_id = %s",
            [rx_id, who.user_id],
        )
        return await cursor.fetchone()

    row = await svc.db.read(lookup)
    if row is None:
        raise not_found("no prescription of yours has this id")
    if row["status"] != "approved":
        raise conflict(
            f"prescription is '{row['status']}'; only an approved prescription can be paid",
            code="not_payable",
        )
    try:
        reply = await svc.payments.create_intent(amount_cents=row["amount"], prescription_id=str(rx_id))
    except ProviderUnavailable as exc:
        raise _provider_down(exc) from exc
    if reply.status_code != 200 or "id" not in reply.body:
        raise _provider_rejected(reply)
    intent = reply.body

    async def record(conn: Conn) -> None:
        await conn.execute(
            "INSERT INTO payments (prescription_id, patient_id, provider_intent_id, amount_cents, currency, status)"
            " VALUES (%s, %s, %s, %s, %s, 'requires_payment_method')",
            [rx_id, who.user_id, intent["id"], row["amount"], intent.get("currency", "usd")],
        )

    await svc.db.write(record)
    return JSONResponse(
        {
            "payment_intent_id": intent["id"],
            "client_secret": intent.get("client_secret"),
            "amount": row["amount"],
            "currency": intent.get("currency", "usd"),
        }
    )


@router.post("/confirm-payment")
async def confirm_payment(request: Request) -> JSONResponse:
    who = caller(request).require_role("patient")
    body = await json_object(request)
    intent_id, card_number = body.get("payment_intent_id"), body.get("card_number")
    if not isinstance(intent_id, str) or not _INTENT_ID.match(intent_id):
        raise bad_request("'payment_intent_id' is required (the id from create-payment-intent)")
    if not isinstance(card_number, str) or not _CARD_NUMBER.match(card_number.replace(" ", "")):
        raise bad_request("'card_number' must be a string of 12 to 19 digits", hint="test card: 4242424242424242")
    svc = services(request)

    async def lookup(conn: Conn) -> dict[str, Any] | None:
        cursor = await conn.execute(
            "SELECT id, status FROM payments WHERE provider_intent_id = %s AND patient_id = %s",
            [intent_id, who.user_id],
        )
        return await cursor.fetchone()

    if await svc.db.read(lookup) is None:
        raise not_found("no payment of yours has this payment_intent_id")
    try:
        reply = await svc.payments.confirm_intent(intent_id, card_number=card_number.replace(" ", ""))
    except ProviderUnavailable as exc:
        raise _provider_down(exc) from exc
    if reply.status_code == 402:
        error = reply.body.get("error") or {}
        await _set_payment_status(svc, intent_id, "failed")
        decline_code = error.get("decline_code") or error.get("code") or "card_declined"
        raise ApiError(
            402,
            "card_declined",
            error.get("message") or "Your card was declined.",
            details={"decline_code": decline_code},
            hint="try another card",
            extra={"decline_code": decline_code, "payment_intent_id": intent_id, "status": "failed"},
        )
    if reply.status_code != 200:
        raise _provider_rejected(reply)
    status = str(reply.body.get("status", "processing"))
    if status in ("succeeded", "processing"):
        await _set_payment_status(svc, intent_id, status)
    return JSONResponse({"payment_intent_id": intent_id, "status": status})


async def _set_payment_status(svc: Services, intent_id: str, status: str) -> None:
    """Record the provider's verdict without undoing a success the webhook may already have recorded."""

    async def update(conn: Conn) -> None:
        await conn.execute(
            "UPDATE payments SET status = %s, updated_at = now()"
            " WHERE provider_intent_id = %s AND status <> 'succeeded'",
            [status, intent_id],
        )

    await svc.db.write(update)


@router.post("/payment-webhook")
async def payment_webhook(request: Request) -> JSONResponse:
    svc = services(request)
    raw = await read_body(request)
    try:
        webhook_signature.verify(request.headers.get("stripe-signature"), raw, svc.settings.webhook_secret)
    except webhook_signature.SignatureError as exc:
        raise bad_request(f"webhook signature verification failed: {exc}", code="bad_signature") from None
    try:
        event = parse_json(raw)
        event_type = event["type"]
        intent = event["data"]["object"]
        intent_id = intent["id"]
    except (JsonRefused, KeyError, TypeError):
        raise bad_request("webhook body is not a Stripe event with data.object.id", code="bad_event") from None
    if event_type == "payment_intent.succeeded":
        outcome = await svc.db.write(lambda conn: _mark_paid(conn, str(intent_id)))
    elif event_type == "payment_intent.payment_failed":
        await _set_payment_status(svc, str(intent_id), "failed")
        outcome = "payment marked failed"
    else:
        outcome = "ignored"
    return JSONResponse({"received": True, "outcome": outcome})


async def _mark_paid(conn: Conn, intent_id: str) -> str:
    async with conn.transaction():
        cursor = await conn.execute(
            "UPDATE payments SET status = 'succeeded', updated_at = now() WHERE provider_intent_id = %s"
            " RETURNING prescription_id, patient_id",
            [intent_id],
        )
        payment = await cursor.fetchone()
        if payment is None:
            _log.warning("webhook for unknown payment intent %s", intent_id)
            return "unknown payment intent"
        cursor = await conn.execute(
            "SELECT status FROM prescriptions WHERE id = %s FOR UPDATE", [payment["prescription_id"]]
        )
        prescription = await cursor.fetchone()
        if prescription is None or prescription["status"] != "approved":
            return "already processed"
        # The status-flow trigger (supabase/migrations) records the event, with the patient as its actor.
        await conn.execute("UPDATE prescriptions SET status = 'paid' WHERE id = %s", [payment["prescription_id"]])
    return "prescription marked paid"
