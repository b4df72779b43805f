"""The platform's client for the Stripe-shaped payment provider (form-encoded requests, secret-key auth).

Provider trouble (unreachable, timeout, 5xx) is one exception, so the functions answer 503 while every other
route keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

PROVIDER_TIMEOUT_S = 5.0


class ProviderUnavailable(Exception):
    """The provider could not be reached or failed on its side."""


@dataclass(frozen=True)
class ProviderReply:
    status_code: int
    body: dict[str, Any]


class PaymentProvider:
    def __init__(self, base_url: str, secret_key: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {secret_key}"},
            timeout=httpx.Timeout(PROVIDER_TIMEOUT_S, connect=2.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def create_intent(self, *, amount_cents: int, prescription_id: str) -> ProviderReply:
        return await self._post(
            "/v1/payment_intents",
            {"amount": str(amount_cents), "currency": "usd", "metadata[prescription_id]": prescription_id},
        )

    async def confirm_intent(self, intent_id: str, *, card_number: str) -> ProviderReply:
        return await self._post(
            f"/v1/payment_intents/{intent_id}/confirm",
            {"payment_method_data[type]": "card", "payment_method_data[card][number]": card_number},
        )

    async def _post(self, path: str, form: dict[str, str]) -> ProviderReply:
        try:
            response = await self._client.post(path, data=form)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{type(exc).__name__} calling {path}") from exc
        if response.status_code >= 500:
            raise ProviderUnavailable(f"provider answered {response.status_code} on {path}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"provider sent a non-JSON answer on {path}") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"provider sent an unexpected answer on {path}")
        return ProviderReply(response.status_code, body)
