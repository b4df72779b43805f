"""Evaluation windows for SLI sources that hold history (Prometheus): rolling (`28d`), a calendar month
(`2026-11`), a quarter (`2026-Q4`), or from a date (`--since 2026-11-01[T12:00:00Z]`), all in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from slo.durations import parse_duration

__all__ = ["Window", "parse_instant", "parse_window"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    label: str


def parse_window(text: str, now: float) -> Window:
    """A window ending no later than `now`; ValueError naming the forms allowed."""
    month, quarter = _MONTH.match(text), _QUARTER.match(text)
    if month or quarter:
        year = int((month or quarter).group(1))  # type: ignore[union-attr]
        first = int(month.group(2)) if month else 3 * int(quarter.group(2)) - 2  # type: ignore[union-attr]
        if not 1 <= first <= 12:
            raise ValueError(f"{text!r}: no month {first}")
        months = 1 if month else 3
        start = datetime(year, first, 1, tzinfo=UTC)
        after = first + months
        end = datetime(year + (after - 1) // 12, (after - 1) % 12 + 1, 1, tzinfo=UTC)
        if start.timestamp() >= now:
            raise ValueError(f"{text!r} has not begun yet")
        return Window(start.timestamp(), min(end.timestamp(), now), text)
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a window: write a duration (28d), a month (2026-11) or a quarter "
                         "(2026-Q4)") from None
    if seconds <= 0:
        raise ValueError(f"{text!r}: the window must be longer than zero")
    return Window(now - seconds, now, f"last {text}")


def parse_instant(text: str) -> float:
    """An ISO 8601 date or date-time; UTC unless it names its offset."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write 2026-11-01 or 2026-11-01T12:00:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
