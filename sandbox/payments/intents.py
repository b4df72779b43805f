"""PaymentIntents: creation, confirmation with test cards, cancellation; in memory and bounded."""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sandbox.payments.cards import CARDS, TEST_PAYMENT_METHODS, Card
from sandbox.payments.errors import StripeError, invalid_request, missing_param

Intent = dict[str, Any]

_CREATE_PARAMS = {"amount", "currency", "metadata", "description", "confirm", "payment_method", "payment_method_data"}
_CONFIRM_PARAMS = {"payment_method", "payment_method_data"}
# Accepted for compatibility with real client code; they do not change the stub's behaviour.
_IGNORED_PARAMS = {
    "automatic_payment_methods",
    "capture_method",
    "confirmation_method",
    "customer",
    "expand",
    "payment_method_types",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
}
_MIN_AMOUNT = 50
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
_CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture")


@dataclass(frozen=True)
class Outcome:
    """What an operation did: the intent after it, the event it raises, and the error to answer with."""

    intent: Intent
    event_type: str | None = None
    error: StripeError | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class PaymentStore:
    """Intents and payment methods by id; the oldest are dropped beyond `max_intents`."""

    def __init__(self, max_intents: int = 10_000) -> None:
        self._max = max_intents
        self._intents: OrderedDict[str, Intent] = OrderedDict()
        self._methods: OrderedDict[str, Card] = OrderedDict()

    def __len__(self) -> int:
        return len(self._intents)

    def get(self, intent_id: str) -> Intent:
        intent = self._intents.get(intent_id)
        if intent is None:
            raise StripeError(
                404,
                "invalid_request_error",
                f"No such payment_intent: '{intent_id}'",
                code="resource_missing",
                param="intent",
            )
        return copy.deepcopy(intent)

    def create(self, params: dict[str, Any]) -> Outcome:
        _reject_unknown(params, _CREATE_PARAMS)
        intent_id = new_id("pi")
        intent: Intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": _amount(params),
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": _currency(params),
            "description": _optional_string(params, "description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(params),
            "payment_method": None,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
        }
        confirm = _boolean(params, "confirm")
        method_id = None
        if "payment_method" in params or "payment_method_data" in params:
            method_id = self._payment_method(params)
            intent["payment_method"] = method_id
            intent["status"] = "requires_confirmation"
        self._intents[intent_id] = intent
        while len(self._intents) > self._max:
            self._intents.popitem(last=False)
        if confirm:
            return self._confirm(intent, method_id)
        return Outcome(copy.deepcopy(intent))  # no webhook for creation: the platform only acts on outcomes

    def confirm(self, intent_id: str, params: dict[str, Any]) -> Outcome:
        _reject_unknown(params, _CONFIRM_PARAMS)
        intent = self._stored(intent_id)
        method_id = self._payment_method(params) if params.keys() & _CONFIRM_PARAMS else None
        return self._confirm(intent, method_id)

    def cancel(self, intent_id: str, params: dict[str, Any]) -> Outcome:
        _reject_unknown(params, {"cancellation_reason"})
        intent = self._stored(intent_id)
        if intent["status"] not in _CANCELABLE:
            raise _unexpected_state(intent, "cancel")
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=params.get("cancellation_reason") or None,
        )
        return Outcome(copy.deepcopy(intent), "payment_intent.canceled")

    def _stored(self, intent_id: str) -> Intent:
        self.get(intent_id)
        return self._intents[intent_id]

    def _confirm(self, intent: Intent, method_id: str | None) -> Outcome:
        if intent["status"] not in _CONFIRMABLE:
            raise _unexpected_state(intent, "confirm")
        method_id = method_id or intent["payment_method"]
        if method_id is None:
            raise invalid_request(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "Pass payment_method or payment_method_data.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        card = self._methods[method_id]
        charge_id = new_id("ch")
        intent["latest_charge"] = charge_id
        if card.decline_code is None:
            intent.update(
                status="succeeded", payment_method=method_id, amount_received=intent["amount"], last_payment_error=None
            )
            return Outcome(copy.deepcopy(intent), "payment_intent.succeeded")
        payment_error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": card.decline_code,
            "message": card.decline_message,
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "charge": charge_id,
            "payment_method": _method_json(method_id, card),
        }
        intent.update(status="requires_payment_method", payment_method=None, last_payment_error=payment_error)
        snapshot = copy.deepcopy(intent)
        error = StripeError(
            402,
            "card_error",
            card.decline_message,
            code="card_declined",
            decline_code=card.decline_code,
            charge=charge_id,
            payment_method=_method_json(method_id, card),
            payment_intent=snapshot,
        )
        return Outcome(snapshot, "payment_intent.payment_failed", error)

    def _payment_method(self, params: dict[str, Any]) -> str:
        """The id of the payment method a request names or describes (a test `pm_card_*` id or card data)."""
        method_id = params.get("payment_method")
        if method_id is not None:
            if method_id in TEST_PAYMENT_METHODS:
                self._remember(method_id, CARDS[TEST_PAYMENT_METHODS[method_id]])
            if method_id not in self._methods:
                raise invalid_request(
                    f"No such PaymentMethod: '{method_id}'", code="resource_missing", param="payment_method"
                )
            return str(method_id)
        data = params.get("payment_method_data")
        if not isinstance(data, dict) or data.get("type") != "card":
            raise invalid_request(
                "payment_method_data[type] must be 'card'.",
                code="parameter_invalid_empty",
                param="payment_method_data[type]",
            )
        card_data = data.get("card")
        number = card_data.get("number") if isinstance(card_data, dict) else None
        if not number:
            raise missing_param("payment_method_data[card][number]")
        card = CARDS.get(re.sub(r"[\s-]", "", str(number)))
        if card is None:
            raise invalid_request(
                "Your card number is not a test card this sandbox knows. Use 4242424242424242 (succeeds) or "
                "4000000000000002 (declined).",
                code="invalid_number",
                param="payment_method_data[card][number]",
            )
        method_id = new_id("pm")
        self._remember(method_id, card)
        return method_id

    def _remember(self, method_id: str, card: Card) -> None:
        self._methods[method_id] = card
        self._methods.move_to_end(method_id)
        while len(self._methods) > self._max:
            self._methods.popitem(last=False)


def _method_json(method_id: str, card: Card) -> dict[str, Any]:
    return {
        "id": method_id,
        "object": "payment_method",
        "type": "card",
        "card": {"brand": card.brand, "last4": card.last4, "exp_month": 12, "exp_year": 2034, "funding": "credit"},
    }


def _unexpected_state(intent: Intent, action: str) -> StripeError:
    return StripeError(
        400,
        "invalid_request_error",
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
        code="payment_intent_unexpected_state",
        payment_intent=copy.deepcopy(intent),
    )


def _reject_unknown(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed and key not in _IGNORED_PARAMS:
            raise invalid_request(f"Received unknown parameter: {key}", code="parameter_unknown", param=key)


def _amount(params: dict[str, Any]) -> int:
    raw = params.get("amount")
    if raw is None:
        raise missing_param("amount")
    if not isinstance(raw, str) or not raw.isdigit():
        raise invalid_request(f"Invalid integer: {raw}", code="parameter_invalid_integer", param="amount")
    amount = int(raw)
    if amount < _MIN_AMOUNT:
        raise invalid_request(
            f"Amount must be at least {_MIN_AMOUNT} (the smallest currency unit).",
            code="amount_too_small",
            param="amount",
        )
    return amount


def _currency(params: dict[str, Any]) -> str:
    raw = params.get("currency")
    if raw is None:
        raise missing_param("currency")
    if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z]{3}", raw):
        raise invalid_request(f"Invalid currency: {raw}.", code="parameter_invalid_string", param="currency")
    return raw.lower()


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict) or any(not isinstance(value, str) for value in raw.values()):
        raise invalid_request("Invalid metadata: expected metadata[key]=value pairs.", param="metadata")
    if len(raw) > 50 or any(len(key) > 40 or len(value) > 500 for key, value in raw.items()):
        raise invalid_request(
            "Invalid metadata: at most 50 keys, keys up to 40 characters, values up to 500.", param="metadata"
        )
    return dict(raw)


def _optional_string(params: dict[str, Any], name: str) -> str | None:
    raw = params.get(name)
    if raw is not None and not isinstance(raw, str):
        raise invalid_request(f"Invalid string: {name} must be a string.", code="parameter_invalid_string", param=name)
    return raw or None


def _boolean(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name, "false")
    if raw not in ("true", "false"):
        raise invalid_request(f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)
    return raw == "true"
