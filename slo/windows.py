"""Evaluation windows for SLI sources that hold history (Prometheus): rolling (`28d`), a calendar month
(`2026-11`), a quarter (`2026-Q4`), or from a date (`--since 2026-11-01[T12:00:00Z]`), all in UTC; and an OpenSLO
SLO's own `timeWindow` (rolling, or calendar-aligned from a start time in a time zone), its default window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slo.durations import parse_duration

__all__ = ["TimeWindow", "Window", "calendar_period", "openslo_start", "parse_instant", "parse_window"]

_SHORTHAND = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
_MONTHS = {"M": 1, "Q": 3, "Y": 12}
_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_YEAR, _MONTH, _QUARTER = re.compile(r"^(\d{4})$"), re.compile(r"^(\d{4})-(\d{2})$"), re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    label: str


def calendar_period(text: str) -> tuple[datetime, datetime] | None:
    """(start, exclusive end) in UTC of a quarter (2026-Q4), a month (2026-11) or a year (2026); None for any
    other text; ValueError for a month outside 01-12 or a year outside 1970-9998. The one calendar for SLO windows
    and period reports."""
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
    if not 1970 <= year <= 9998:
        raise ValueError(f"year {year} is out of range; use a year from 1970 to 9998")
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


@dataclass(frozen=True)
class TimeWindow:
    """An OpenSLO `timeWindow`: rolling (the last `duration`, ending now) or calendar-aligned (the period of
    `duration` containing now, periods counted from `start`: `1Q` from 2026-01-01 is the calendar quarter).

    `duration` is OpenSLO's shorthand, a whole number and one of m, h, d, w, M, Q, Y; months, quarters and years
    follow the calendar of `start`'s time zone, the others are fixed lengths of seconds."""

    duration: str
    rolling: bool = True
    start: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def __post_init__(self) -> None:
        found = _SHORTHAND.match(self.duration)
        if not found:
            raise ValueError(f"{self.duration!r} is not a duration shorthand: a whole number and one of m, h, d, w, "
                             "M, Q, Y (e.g. 28d, 1Q)")
        if self.rolling and found[2] in _MONTHS:
            raise ValueError(f"{self.duration!r}: a rolling window takes m, h, d or w (a month has no fixed length); "
                             "write 30d, or make the window calendar-aligned (isRolling: false)")

    def window(self, now: float) -> Window:
        """The window this SLO is judged over at `now` (its current period, to now, when calendar-aligned)."""
        found = _SHORTHAND.match(self.duration)
        assert found is not None
        count, unit = int(found[1]), found[2]
        if self.rolling:
            return Window(now - count * _SECONDS[unit], now, f"last {self.duration}")
        if unit in _MONTHS:
            months = count * _MONTHS[unit]
            local = datetime.fromtimestamp(now, self.start.tzinfo)
            elapsed = (local.year - self.start.year) * 12 + local.month - self.start.month
            begin = _add_months(self.start, elapsed // months * months)
            if begin.timestamp() > now:
                begin = _add_months(begin, -months)
            end = _add_months(begin, months)
        else:
            size = count * _SECONDS[unit]
            begin = self.start + timedelta(seconds=(now - self.start.timestamp()) // size * size)
            end = begin + timedelta(seconds=size)
        label = f"{self.duration} calendar period {begin:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} {self.start.tzname()}"
        return Window(begin.timestamp(), min(end.timestamp(), now), label)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def openslo_start(text: str, zone: str) -> datetime:
    """A calendar-aligned window's `startTime` ("2026-01-01 00:00:00") in its `timeZone` (an IANA name)."""
    try:
        tz = ZoneInfo(zone)
    except (ValueError, KeyError, OSError):
        raise ValueError(f"{zone!r} is not a time zone name (e.g. UTC, Europe/Berlin)") from None
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=tz)
    except ValueError:
        raise ValueError(f"{text!r} is not a start time: write 2026-01-01 00:00:00") from None
