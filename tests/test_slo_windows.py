"""Evaluation windows of `rxsuite slo evaluate --env` (slo/windows.py): calendar periods in UTC, rolling ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slo.windows import parse_instant, parse_window

_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()


def _utc(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-Q3", _utc(2026, 7, 1), _utc(2026, 10, 1)),
    ("2026-10", _utc(2026, 10, 1), _utc(2026, 11, 1)),
    ("2026-Q4", _utc(2026, 10, 1), _NOW),  # the current quarter ends now
    ("2025", _utc(2025, 1, 1), _utc(2026, 1, 1)),
    ("28d", _NOW - 28 * 86400, _NOW),
])
def test_windows_are_calendar_aligned_or_rolling(text: str, start: float, end: float) -> None:
    window = parse_window(text, _NOW)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(("text", "message"), [("2026-13", "01-12"), ("2027-Q1", "not begun"),
                                               ("soon", "28d"), ("0s", "longer than zero")])
def test_bad_windows_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text, _NOW)


def test_an_instant_without_offset_is_utc() -> None:
    assert parse_instant("2026-11-01") == _utc(2026, 11, 1)
    assert parse_instant("2026-11-01T12:00:00+01:00") == _utc(2026, 11, 1, 11)
