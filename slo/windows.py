"""Evaluation windows for SLI sources that hold history (Prometheus): rolling (`28d`), a calendar month
(`2026-11`), a quarter (`2026-Q4`), or from a date (`--since 2026-11-01[T12:00:00Z]`), all in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from slo.durations import parse_duration

__all__ = ["Window", "calendar_period", "parse_instant", "parse_window"]

_YEAR, _MONTH, _QUARTER = re.compile(r"^(\d{4})$"), re.compile(r"^(\d{4})-(\d{2})$"), re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    label: str


def calendar_period(text: str) -> tuple[datetime, datetime] | None:
    """(start, exclusive end) in UTC of a quarter (2026-Q4), a month (2026-11) or a year (2026); None for any
    other text; ValueError for a month outside 01-12. The one calendar for SLO windows and period reports."""
    text = text.strip().upper()
    if found := _QUARTER.match(text):
        year, first, months = int(found[1]), 3 * int(found[2]) - 2, 3
    elif found := _MONTH.match(text):
        year, first, months = int(found[1]), int(found[2]), 1
        if not 1 <= first <= 12:
            raise ValueError(f"month {first} is not 01-12")
    elif found := _YEAR.match(text):
        year, first, months = int(found[1]), 1, 12
    else:
        return None
    after = first - 1 + months
    return datetime(year, first, 1, tzinfo=UTC), datetime(year + after // 12, after % 12 + 1, 1, tzinfo=UTC)


def parse_window(text: str, now: float) -> Window:
    """A window ending no later than `now`; ValueError naming the forms allowed."""
    period = calendar_period(text)
    if period is not None:
        start, end = (moment.timestamp() for moment in period)
        if start >= now:
            raise ValueError(f"{text!r} has not begun yet")
        return Window(start, min(end, now), text)
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a window: write a duration (28d), a month (2026-11), a quarter "
                         "(2026-Q4) or a year (2026)") from None
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
