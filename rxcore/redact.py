"""The one redactor: secrets out of everything the suite writes (run folders, reports, JUnit, logs, traces).

Two ways in, one set of rules:
- `redact(value)` for documents the suite builds itself (run.json, journals): fields whose *names* look like
  credentials lose their values, and a URL's userinfo (``https://user:pass@host``) is masked in every string.
- `Scrubber` for text the suite did not build (error messages, logs, Playwright traces, report text): known secret
  values (and their URL-encoded forms), values of credential-looking environment variables, and anything *shaped*
  like a credential: a JWT, ``Bearer ...``, ``password=...``, URL userinfo, Stripe-style keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["JWT", "MIN_SECRET_LENGTH", "REDACTED", "Scrubber", "redact", "redact_url_userinfo"]

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter known values ("1", "true") would blank ordinary words
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

_SECRET_FIELD = re.compile(r"(secret|password|passwd|token|api_?key|anon_key|service_key|authorization|dsn)",
                           re.IGNORECASE)
_ENV_NAME_FIELD = re.compile(r"_env$")  # `anon_key_env: NAME` names a variable; the name is not a secret
_SECRET_ENV_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ANON_KEY|SERVICE_KEY|CREDENTIAL|AUTH|DSN)",
                              re.IGNORECASE)
_URL_USERINFO = re.compile(r"(://)[^/\s@\"'<>?#\[\]]+@")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (JWT, REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    (_URL_USERINFO, rf"\1{REDACTED}@"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|"
                r"apikey|service_key|anon_key|authorization)(\"?'?\s*[:=]\s*\"?'?)(?!\[redacted\])"
                r"([^\s\"'&,;<>]{3,})"), rf"\1\2{REDACTED}"),
    (re.compile(r"\b(?:sk|rk|pk|whsec)_(?:live_|test_)?[A-Za-z0-9]{8,}"), REDACTED),
)


def redact_url_userinfo(text: str) -> str:
    """``https://user:pass@host/...`` → ``https://[redacted]@host/...``, wherever a URL appears in ``text``."""
    return _URL_USERINFO.sub(rf"\1{REDACTED}@", text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with every credential-looking field's value replaced and URL userinfo masked."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if key and _SECRET_FIELD.search(key) and not _ENV_NAME_FIELD.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_url_userinfo(value)
    return value


class Scrubber:
    """Replaces known secret values and credential-shaped text with "[redacted]", in text, bytes or JSON trees.

    ``environ`` (default: the process environment) contributes the values of credential-looking variables.
    """

    def __init__(self, known: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        values = {v for v in known if v and len(v) >= MIN_SECRET_LENGTH}
        values |= {v for k, v in env.items() if _SECRET_ENV_NAME.search(k) and v and len(v) >= MIN_SECRET_LENGTH}
        forms = {form for v in values for form in (v, quote(v, safe=""), quote_plus(v))}
        self._known = sorted(forms, key=len, reverse=True)  # longest first: a secret containing another

    def text(self, value: str) -> str:
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def data(self, raw: bytes) -> bytes:
        """The same for bytes of any encoding: non-UTF-8 bytes pass through unchanged."""
        return self.text(raw.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")

    def tree(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value
