"""Secrets out of everything the suite writes: fields whose names look like credentials are replaced."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "redact"]

REDACTED = "[redacted]"
_SECRET_FIELD = re.compile(r"(secret|password|passwd|token|api_?key|anon_key|service_key|authorization|dsn)",
                           re.IGNORECASE)
_ENV_NAME_FIELD = re.compile(r"_env$")  # `anon_key_env: NAME` names a variable; the name is not a secret


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with every credential-looking field's value replaced."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if key and _SECRET_FIELD.search(key) and not _ENV_NAME_FIELD.search(key) and value not in (None, ""):
        return REDACTED
    return value
