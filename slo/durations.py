"""Durations written the way SLO documents write them: "30s", "5m", "1h", "3d", "200ms", "1h30m"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
ALLOWED = 'a number with a unit (ms, s, m, h, d, w), e.g. "200ms", "30s", "5m", "1h", "3d", "1h30m"'


def parse_duration(text: object) -> float:
    """Seconds in `text`; ValueError saying what is allowed otherwise (a bare number has no unit)."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write {ALLOWED}")
    s = text.strip()
    pos = 0
    total = 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(s):
        raise ValueError(f"{text!r} is not a duration; write {ALLOWED}")
    return total


def format_duration(seconds: float) -> str:
    """Shortest exact form in one unit ("5m", "1.5s", "200ms"); inverse of parse_duration for such values."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
