"""Signed webhook events, delivered in the background with bounded retries, as Stripe delivers them.

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whsec_ secret>`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from sandbox.payments.intents import new_id

log = logging.getLogger("payments")

API_VERSION = "2024-06-20"


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value for `payload` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(payload: bytes, header: str, secret: str, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """True when `header` signs `payload` with `secret` and is at most `tolerance_s` old (for receivers)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in fields if key == "t"]
    signatures = [value for key, value in fields if key == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(payload, secret, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def event(event_type: str, obj: dict[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": new_id("req"), "idempotency_key": idempotency_key},
        "type": event_type,
    }


@dataclass
class Delivery:
    """What happened to one event: pending, delivered, failed (retries exhausted), suppressed, dropped, no_url."""

    event_id: str
    type: str
    status: str
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None


class WebhookDispatcher:
    """Sends events to `url` without blocking the API; retries with exponential backoff, bounded."""

    def __init__(
        self,
        url: str | None,
        secret: str | None,
        *,
        attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        max_pending: int = 1000,
    ) -> None:
        self._url = url
        self._secret = secret or ""
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_pending = max_pending
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self.enabled = True
        self.deliveries: deque[Delivery] = deque(maxlen=500)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def emit(self, evt: dict[str, Any]) -> None:
        record = Delivery(evt["id"], evt["type"], "pending")
        self.deliveries.append(record)
        if not self.enabled:
            record.status = "suppressed"
        elif self._url is None:
            record.status = "no_url"
        elif len(self._tasks) >= self._max_pending:
            record.status = "dropped"
            log.warning("webhook %s dropped: %d deliveries already pending", evt["id"], len(self._tasks))
        else:
            task = asyncio.get_running_loop().create_task(self._deliver(evt, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def history(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.deliveries]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _deliver(self, evt: dict[str, Any], record: Delivery) -> None:
        assert self._url is not None
        payload = json.dumps(evt).encode()
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
            record.attempts = attempt + 1
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, self._secret, int(time.time())),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) rxsuite-sandbox",
            }
            try:
                response = await self._client.post(self._url, content=payload, headers=headers)
            except httpx.HTTPError as exc:
                record.last_error = f"{type(exc).__name__}: {exc}"
                continue
            record.last_status_code = response.status_code
            if response.is_success:
                record.status = "delivered"
                return
            record.last_error = f"HTTP {response.status_code}"
        record.status = "failed"
        log.warning(
            "webhook %s (%s) failed after %d attempts: %s", evt["id"], evt["type"], record.attempts, record.last_error
        )
