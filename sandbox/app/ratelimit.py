"""In-memory token buckets (per process): per user and per client address for every request, and per account and
per client address for failed sign-ins."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

__all__ = ["TokenBuckets"]

_PRUNE_ABOVE = 50_000


@dataclass
class TokenBuckets:
    """Buckets of ``burst`` tokens refilled at ``rate`` per second; ``take`` returns seconds to wait or 0."""

    rate: float
    burst: float
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float | None = None) -> int:
        """Spend one token for ``key``; return 0 if allowed, else the whole seconds until a token is back."""
        now = time.monotonic() if now is None else now
        tokens = self._level(key, now)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            return 0
        self._buckets[key] = (tokens, now)
        return self._wait(tokens)

    def peek(self, key: str, now: float | None = None) -> int:
        """What ``take`` would return, without spending a token."""
        tokens = self._level(key, time.monotonic() if now is None else now)
        return 0 if tokens >= 1.0 else self._wait(tokens)

    def _level(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def _wait(self, tokens: float) -> int:
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave exactly like new ones."""
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
