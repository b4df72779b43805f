"""GoTrue-like brute-force throttle on password sign-in: failed attempts are counted per account and per client
address; once either bucket is empty every attempt on it (a right password too) gets 429 with ``Retry-After``.

Successful sign-ins cost nothing, so load users signing in once each never trip it.
"""

from __future__ import annotations

from sandbox.app.errors import AuthError
from sandbox.app.ratelimit import TokenBuckets
from sandbox.app.settings import Settings

__all__ = ["SignInThrottle"]


class SignInThrottle:
    def __init__(self, settings: Settings) -> None:
        self._accounts = TokenBuckets(settings.sign_in_account_per_minute / 60, settings.sign_in_account_burst)
        self._addresses = TokenBuckets(settings.sign_in_address_per_minute / 60, settings.sign_in_address_burst)

    def check(self, account: str, address: str) -> None:
        """Raise GoTrue's 429 if this account or address has used up its failed attempts."""
        wait = max(self._accounts.peek(account), self._addresses.peek(address))
        if wait:
            raise AuthError(
                429, "over_request_rate_limit", "Request rate limit reached", headers={"Retry-After": str(wait)}
            )

    def failed(self, account: str, address: str) -> None:
        self._accounts.take(account)
        self._addresses.take(address)
