"""Durations written the way SLO documents write them: "30s", "5m", "1h", "3d", "200ms", "1h30m"."""

from __future__ import annotations

from rxcore.validation import DURATION_ALLOWED as ALLOWED
from rxcore.validation import DURATION_UNITS, parse_duration

__all__ = ["ALLOWED", "format_duration", "parse_duration"]


def format_duration(seconds: float) -> str:
    """Shortest exact form in one unit ("5m", "1.5s", "200ms"); inverse of parse_duration for such values."""
    for unit in ("w", "d", "h", "m", "s"):
        size = DURATION_UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
