"""SLIs from the monitor's record (slo/monitorsource.py, `rxsuite slo evaluate --env NAME --source monitor`): a
record with known outages, slow checks, a maintenance window and a gap gives the availability and percentiles
computed here by hand, whether read from roll-ups or raw lines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from rxsuite.cli import main
from slo.histogram import BUCKET_COUNT
from slo.monitorsource import Maintenance, MonitorSource, evaluate_monitor, monitor_counts
from slo.monitorstore import CheckResult, MonitorStore, store_folder
from slo.spec import load_spec
from slo.windows import Window

T0 = 1704067200.0  # 2024-01-01T00:00:00Z
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
NAMES = ("api.sign-in", "api.renewal")
MAINTENANCE = Maintenance(T0 + DAY + 22 * HOUR + 10 * MINUTE + 30, T0 + 2 * DAY + HOUR + 20 * MINUTE, "db upgrade")
GAP = (T0 + 3 * DAY + 3 * HOUR, T0 + 3 * DAY + 3 * HOUR + 10 * MINUTE)
SLOW_US = 1954 * 2048 - 1  # 4.0 s; every duration is the top of its histogram bucket, so percentiles are exact


def _record() -> list[CheckResult]:
    """Five days, one check of each name a minute; known outages, two slow hours, failures inside maintenance."""
    out = []
    for minute in range(5 * 1440):
        t = T0 + minute * MINUTE
        if GAP[0] <= t < GAP[1]:
            continue  # the monitor was not running
        for k, name in enumerate(NAMES):
            i = minute * 2 + k
            started = t + 0.5 * k
            us = (25 + (i * 7) % 40) * 2048 - 1
            if name == "api.renewal" and T0 + DAY + 6 * HOUR <= started < T0 + DAY + 8 * HOUR:
                us = SLOW_US
            down = (name == "api.sign-in" and T0 + 10 * HOUR <= started < T0 + 10.5 * HOUR) or \
                (name == "api.renewal" and T0 + 2 * DAY + 12 * HOUR <= started < T0 + 2 * DAY + 12 * HOUR + 5 * MINUTE)
            down = down or MAINTENANCE.start <= started < MAINTENANCE.end  # planned: excluded from the SLI
            out.append(CheckResult(name, started, us / 1e6, not down, "HTTP 503" if down else ""))
    return out


CHECKS = _record()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = store_folder(tmp_path_factory.mktemp("runs"), "staging-mon")
    with MonitorStore(path, "staging-mon") as store:
        store.append_many(CHECKS)
        store.record_gap(*GAP, "host reboot")
    return path


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(yaml.safe_dump({"format": "rxsuite-slo/1", "name": "monitor", "series_step": "1m", "objectives": [
        {"name": "availability", "kind": "availability", "objective": "99%"},
        {"name": "latency-p95", "kind": "latency", "percentile": 95, "threshold": "3s"},
        {"name": "latency-p99-per-check", "kind": "latency", "percentile": 99, "threshold": "3s",
         "per_request": True},
        {"name": "journey-step-p95", "kind": "journey_step", "percentile": 95, "threshold": "3s"}]}))
    return path


def _truth(start: float, end: float, names: tuple[str, ...] = NAMES) -> tuple[int, int, list[float]]:
    """(checks, good checks, sorted good durations) outside maintenance: the hand count."""
    chosen = [c for c in CHECKS if start <= c.started_at < end and c.check in names
              and not MAINTENANCE.start <= c.started_at < MAINTENANCE.end]
    return len(chosen), sum(c.ok for c in chosen), sorted(c.duration_s for c in chosen if c.ok)


def _nearest_rank(values: list[float], p: float) -> float:
    return values[math.ceil(p / 100 * len(values)) - 1]


WINDOWS = [Window(T0, T0 + 5 * DAY, "5 days"),
           Window(T0 + DAY + 5 * HOUR + 17 * MINUTE + 13, T0 + 4 * DAY + 2 * HOUR + 3 * MINUTE, "odd edges")]


@pytest.mark.parametrize("window", WINDOWS, ids=["whole-days", "odd-edges"])
def test_availability_and_percentiles_are_the_hand_counted_ones(folder: Path, spec_path: Path,
                                                                window: Window) -> None:
    evaluation = evaluate_monitor(load_spec(spec_path), MonitorSource(folder, window, (MAINTENANCE,)))
    results = {o.name: o for o in evaluation.objectives}
    total, good, latencies = _truth(window.start, window.end)
    assert (results["availability"].samples, results["availability"].measured) == (total, good / total)
    assert results["availability"].details["failed_checks"] == total - good
    assert results["latency-p95"].samples == good
    assert results["latency-p95"].measured == _nearest_rank(latencies, 95)
    for name in NAMES:
        _, _, mine = _truth(window.start, window.end, (name,))
        assert results[f"latency-p99-per-check[{name}]"].measured == _nearest_rank(mine, 99)
    assert results["journey-step-p95"].verdict == "not-applicable"


def test_daily_steps_mix_daily_and_hourly_rollups_and_raw_lines_exactly(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "daily.yaml"
    path.write_text(yaml.safe_dump({"format": "rxsuite-slo/1", "name": "daily", "series_step": "1d",
                                    "burn_rate_windows": [{"long": "3d", "short": "1d", "factor": 1}],
                                    "objectives": [{"name": "availability", "kind": "availability", "objective": "99%"},
                                                   {"name": "latency-p95", "kind": "latency", "percentile": 95,
                                                    "threshold": "3s"}]}))
    evaluation = evaluate_monitor(load_spec(path), MonitorSource(folder, WINDOWS[0], (MAINTENANCE,)))
    availability, latency = evaluation.objectives
    assert availability.details["source"]["step_s"] == DAY
    assert availability.details["source"]["lines_read"]["1d"] > 0  # days 1 and 4; 2 and 3 hourly; 5 raw
    total, good, latencies = _truth(WINDOWS[0].start, WINDOWS[0].end)
    assert (availability.samples, availability.measured) == (total, good / total)
    assert latency.measured == _nearest_rank(latencies, 95)
    assert latency.series is not None
    _, _, day2 = _truth(T0 + DAY, T0 + 2 * DAY)
    assert latency.series["value_s"][1] == _nearest_rank(day2, 95)


def test_the_slow_hours_are_what_fail_the_renewal_p99(folder: Path, spec_path: Path) -> None:
    evaluation = evaluate_monitor(load_spec(spec_path), MonitorSource(folder, WINDOWS[0], (MAINTENANCE,)))
    results = {o.name: o for o in evaluation.objectives}
    assert results["latency-p99-per-check[api.renewal]"].details["beyond_threshold"] == 120
    assert results["latency-p99-per-check[api.renewal]"].measured == SLOW_US / 1e6
    assert results["latency-p99-per-check[api.renewal]"].verdict == "fail"
    series = results["latency-p99-per-check[api.renewal]"].series
    assert series is not None and series["step_s"] == HOUR
    per_step = dict(zip(series["t"], series["value_s"], strict=True))
    assert per_step[T0 + DAY + 6 * HOUR] == per_step[T0 + DAY + 7 * HOUR] == SLOW_US / 1e6
    _, _, usual = _truth(T0 + DAY + 8 * HOUR, T0 + DAY + 9 * HOUR, ("api.renewal",))
    assert per_step[T0 + DAY + 8 * HOUR] == _nearest_rank(usual, 99)
    merged = results["latency-p95"].series
    assert merged is not None
    _, _, both = _truth(T0 + DAY + 6 * HOUR, T0 + DAY + 7 * HOUR)  # half the checks slow: p95 is a slow one
    assert dict(zip(merged["t"], merged["value_s"], strict=True))[T0 + DAY + 6 * HOUR] == _nearest_rank(both, 95)
    assert results["latency-p99-per-check[api.sign-in]"].details["beyond_threshold"] == 0


def test_maintenance_is_left_out_counted_and_shown(folder: Path, spec_path: Path) -> None:
    evaluation = evaluate_monitor(load_spec(spec_path), MonitorSource(folder, WINDOWS[0], (MAINTENANCE,)))
    inside = sum(MAINTENANCE.start <= c.started_at < MAINTENANCE.end for c in CHECKS)
    assert inside == 2 * (109 + 80)  # 22:11 to 23:59 and 00:00 to 01:19, two checks a minute
    assert evaluation.objectives[0].details["excluded_maintenance_checks"] == inside
    assert any(f"(db upgrade): {inside} checks left out of the SLI" in note for note in evaluation.notes)


def test_gaps_are_shown_as_not_observed(folder: Path, spec_path: Path) -> None:
    evaluation = evaluate_monitor(load_spec(spec_path), MonitorSource(folder, WINDOWS[0], (MAINTENANCE,)))
    assert any(note.startswith("not observed 2024-01-04T03:00:00Z to 2024-01-04T03:10:00Z (host reboot)")
               for note in evaluation.notes)
    assert any("10m of recorded gaps in the window: not counted as available" in note for note in evaluation.notes)


def test_rollups_give_the_same_counts_as_raw_lines(folder: Path) -> None:
    window = WINDOWS[0]
    hourly = monitor_counts(folder, window, (MAINTENANCE,), 3600.0)
    raw = monitor_counts(folder, window, (MAINTENANCE,), 60.0)
    assert hourly.read["1h"] > 0 and raw.read["1h"] == 0
    assert hourly.names == raw.names
    for counts_a, counts_b in ((hourly.total, raw.total), (hourly.good, raw.good)):
        assert counts_a.sum(axis=0).tolist() == counts_b.sum(axis=0).tolist()

    def dense(counts: object) -> np.ndarray:
        key = counts.lat_check * BUCKET_COUNT + counts.lat_bucket  # type: ignore[attr-defined]
        return np.bincount(key, weights=counts.lat_count, minlength=2 * BUCKET_COUNT)  # type: ignore[attr-defined]

    assert np.array_equal(dense(hourly), dense(raw))
    assert hourly.excluded.tolist() == raw.excluded.tolist()


def _env_file(tmp_path: Path, prometheus: bool = False) -> Path:
    def iso(t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)  # written as a YAML timestamp

    data = {"kind": "staging", "base_url": "https://staging.example.org",
            "monitor": {"maintenance": [{"start": iso(MAINTENANCE.start), "end": iso(MAINTENANCE.end),
                                         "reason": MAINTENANCE.reason}]}}
    if prometheus:
        data["prometheus"] = {"url": "http://127.0.0.1:9"}
    path = tmp_path / "staging-mon.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("source", ["monitor", "auto"])
def test_slo_evaluate_reads_the_environments_record(folder: Path, spec_path: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str], source: str) -> None:
    code = main(["slo", "evaluate", "--env", str(_env_file(tmp_path)), "--source", source,
                 "--runs-dir", str(folder.parent.parent), "--since", "2024-01-01", "--until", "2024-01-06",
                 "--spec", str(spec_path), "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    total, good, _ = _truth(T0, T0 + 5 * DAY)
    availability = result["objectives"][0]
    assert (availability["samples"], availability["measured"]) == (total, good / total)
    assert availability["details"]["source"]["type"] == "monitor"
    assert code == 1  # the renewal p99 is shown missed


def test_an_environment_without_a_record_is_told_how_to_get_one(tmp_path: Path, spec_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["slo", "evaluate", "--env", str(_env_file(tmp_path)), "--source", "monitor",
                 "--runs-dir", str(tmp_path / "empty"), "--window", "28d", "--spec", str(spec_path)])
    assert code == 2
    assert "run `rxsuite monitor --env staging-mon` first" in capsys.readouterr().err


def test_a_period_report_of_an_environment_without_prometheus_comes_from_its_record(
        folder: Path, spec_path: Path, tmp_path: Path) -> None:
    output = tmp_path / "report"
    code = main(["report", "--since", "2024-01-01", "--env", str(_env_file(tmp_path)), "--spec", str(spec_path),
                 "--runs-dir", str(folder.parent.parent), "--output", str(output), "--no-pdf"])
    report = json.loads((output / "report.json").read_text())
    availability = next(o for o in report["slo"]["objectives"] if o["name"] == "availability")
    total, good, _ = _truth(T0, T0 + 5 * DAY)
    assert (availability["samples"], availability["measured"]) == (total, good / total)
    assert availability["source"]["type"] == "monitor"
    assert availability["source_text"].startswith(f"synthetic monitor record {folder}")
    assert "checks in maintenance left out" in availability["source_text"]
    assert "synthetic monitor" in (output / "summary.md").read_text()
    assert code == 1  # the renewal p99 is shown missed
