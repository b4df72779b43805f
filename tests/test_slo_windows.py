"""Evaluation windows of `rxsuite slo evaluate --env` (slo/windows.py): calendar periods in UTC, rolling ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from rxcore.errors import RxError
from slo.promtarget import spec_window
from slo.spec import load_spec
from slo.windows import TimeWindow, openslo_start, parse_instant, parse_window

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


# --- OpenSLO timeWindow: the default window of `rxsuite slo evaluate --env` ---------------------------------

@pytest.mark.parametrize(("window", "start", "end"), [
    (TimeWindow("1Q", rolling=False), _utc(2026, 10, 1), _NOW),  # calendar quarters, from 1970 UTC
    (TimeWindow("1M", rolling=False, start=openslo_start("2026-01-01 00:00:00", "Europe/Berlin")),
     _utc(2026, 10, 31, 23), _NOW),  # November in Berlin starts at 23:00 UTC (CET)
    (TimeWindow("2M", rolling=False, start=openslo_start("2026-02-01 00:00:00", "UTC")), _utc(2026, 10, 1), _NOW),
    (TimeWindow("1w", rolling=False, start=openslo_start("2026-11-02 00:00:00", "UTC")), _utc(2026, 11, 23), _NOW),
    (TimeWindow("28d"), _NOW - 28 * 86400, _NOW),
    (TimeWindow("1Y", rolling=False, start=openslo_start("2025-07-01 00:00:00", "UTC")), _utc(2026, 7, 1), _NOW),
])
def test_an_openslo_time_window_is_its_current_period_or_the_last_duration(window: TimeWindow, start: float,
                                                                             end: float) -> None:
    found = window.window(_NOW)
    assert (found.start, found.end) == (start, end)


def test_a_rolling_window_of_months_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="write 30d, or make the window calendar-aligned"):
        TimeWindow("1M")


def _openslo(path: Path, *windows: dict) -> Path:
    docs = [{"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": f"slo-{i}"},
             "spec": {"budgetingMethod": "Occurrences", "timeWindow": [window], "objectives": [{"target": 0.99}],
                      "indicator": {"metadata": {"name": "ok"}, "spec": {"ratioMetric": {
                          "counter": True, "total": {"metricSource": {"type": "Prometheus", "spec": {"query": "rx"}}},
                          "bad": {"metricSource": {"type": "Prometheus", "spec": {"query": 'rx{code="500"}'}}}}}}}}
            for i, window in enumerate(windows)]
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_an_openslo_calendar_window_is_the_specs_default_window(tmp_path: Path) -> None:
    spec = load_spec(_openslo(tmp_path / "slo.yaml", {"duration": "1Q", "isRolling": False, "calendar": {
        "startTime": "2026-01-01 00:00:00", "timeZone": "UTC"}}))
    window = spec_window(spec)
    assert window is not None and (window.window(_NOW).start, window.window(_NOW).end) == (_utc(2026, 10, 1), _NOW)


def test_slos_naming_different_windows_need_a_window_option(tmp_path: Path) -> None:
    spec = load_spec(_openslo(tmp_path / "slo.yaml", {"duration": "28d", "isRolling": True},
                              {"duration": "1M", "isRolling": False}))
    with pytest.raises(RxError, match=r"different timeWindows \(1M calendar-aligned, 28d\); choose one with --window"):
        spec_window(spec)
