"""CORS for the Supabase APIs, as Supabase's gateway answers it: browsers running supabase-js on another origin
(the platform's Next.js app) may call ``/rest/v1``, ``/auth/v1`` and ``/functions/v1``.

Any origin, no credentials (``*``), so the cookie-session HTML pages stay same-origin only.
"""

from __future__ import annotations

__all__ = ["API_PREFIXES", "PREFLIGHT_HEADERS", "RESPONSE_HEADERS", "is_api"]

API_PREFIXES = ("/rest/v1/", "/auth/v1/", "/functions/v1/")
# What supabase-js, postgrest-js and auth-js send (and the headers their callers commonly add).
_ALLOWED_HEADERS = (
    "authorization, apikey, x-client-info, content-type, accept, accept-profile, content-profile, prefer, range, "
    "range-unit, x-supabase-api-version, x-region, x-upsert"
)
RESPONSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"content-range, content-location, x-supabase-api-version, retry-after"),
]
# With RESPONSE_HEADERS, which every API answer (a preflight too) carries.
PREFLIGHT_HEADERS: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-methods", b"GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS"),
    (b"access-control-allow-headers", _ALLOWED_HEADERS.encode()),
    (b"access-control-max-age", b"86400"),
]


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)
