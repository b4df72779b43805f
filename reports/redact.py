"""The last line of defence against secrets in report files: every string of the report model and every output
file's text passes through `Scrubber` before it is written.

Run folders are already redacted by field name (`rxcore.redact.redact`); this catches what field names miss: the
values of credential-looking environment variables and of secrets the caller knows (sandbox keys), and anything
shaped like a credential (JWTs, `Bearer ...`, `password=...`, `user:pass@` in URLs, Stripe-style keys).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rxcore.redact import REDACTED

_SECRET_ENV_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|ANON_KEY|SERVICE_KEY|CREDENTIAL|AUTH|DSN)",
                              re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would blank ordinary words
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    (re.compile(r"(://)[^/\s:@\"'<>]+:[^/\s@\"'<>]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|"
                r"apikey|service_key|anon_key|authorization)(\"?'?\s*[:=]\s*\"?'?)(?!\[redacted\])"
                r"([^\s\"'&,;<>]{3,})"), rf"\1\2{REDACTED}"),
    (re.compile(r"\b(?:sk|rk|pk|whsec)_(?:live_|test_)?[A-Za-z0-9]{8,}"), REDACTED),
)


class Scrubber:
    """Replaces known secret values and credential-shaped text with "[redacted]"."""

    def __init__(self, known: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        values = {v for v in known if v and len(v) >= _MIN_SECRET_LEN}
        values |= {v for k, v in env.items() if _SECRET_ENV_NAME.search(k) and v and len(v) >= _MIN_SECRET_LEN}
        self._known = sorted(values, key=len, reverse=True)  # longest first: a secret containing another

    def text(self, value: str) -> str:
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def tree(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value
