"""Stripe-style webhook signatures: ``Stripe-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">``."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TOLERANCE_S = 300
MAX_HEADER_CHARS = 2048  # Stripe's header holds a timestamp and a few 64-digit signatures
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(ValueError):
    pass


def verify(header: str | None, body: bytes, secret: str, *, now: float | None = None) -> None:
    """Raise SignatureError unless one v1 signature matches and the timestamp is within the tolerance."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    if len(header) > MAX_HEADER_CHARS:
        raise SignatureError(f"Stripe-Signature header longer than {MAX_HEADER_CHARS} characters")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp) or not candidates:
        raise SignatureError("malformed Stripe-Signature header: expected t=<unix time>,v1=<signature>")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_S:
        raise SignatureError("signature timestamp outside the 5-minute tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates):
        raise SignatureError("no v1 signature matches the payload")
