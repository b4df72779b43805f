"""Idempotency-Key handling as Stripe does it: replay the saved response, refuse a key reused differently."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sandbox.payments.errors import StripeError

_TTL_S = 24 * 3600  # Stripe keeps keys for 24 hours


@dataclass(frozen=True)
class Saved:
    fingerprint: tuple[Any, ...]
    status: int
    body: dict[str, Any]
    saved_at: float


class IdempotencyCache:
    """Saved responses by (API key, Idempotency-Key); bounded in count and age."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._saved: OrderedDict[tuple[str, str], Saved] = OrderedDict()

    def lookup(self, scope: str, key: str, fingerprint: tuple[Any, ...]) -> Saved | None:
        saved = self._saved.get((scope, key))
        if saved is None or time.time() - saved.saved_at > _TTL_S:
            return None
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        return saved

    def save(self, scope: str, key: str, fingerprint: tuple[Any, ...], status: int, body: dict[str, Any]) -> None:
        self._saved[(scope, key)] = Saved(fingerprint, status, body, time.time())
        self._saved.move_to_end((scope, key))
        while len(self._saved) > self._max:
            self._saved.popitem(last=False)
