"""Baseline comparison: real regressions are flagged with their size, noise is not, and the test is stated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reports.builder import generate
from reports.compare import IMPROVED, NO_CHANGE, REGRESSED
from reports.sources import for_run
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def _rows(tmp_path: Path, before: dict, now: dict) -> dict[str, dict]:
    baseline = report_inputs.load_run(tmp_path, T0, seconds=60, rps=60, **before)
    current = report_inputs.load_run(tmp_path, T0 + timedelta(days=1), seconds=60, rps=60, **now)
    generate(for_run(current), baseline=for_run(baseline), pdf=False)
    data = json.loads((current / "report.json").read_text())
    return {row["what"]: row for row in data["baseline"]["rows"]}


def test_doubled_latency_is_a_regression_beyond_noise(tmp_path: Path) -> None:
    row = _rows(tmp_path, {"median_ms": 40, "seed": 1}, {"median_ms": 80, "seed": 2})["p95 latency, all requests"]
    assert row["result"] == REGRESSED
    assert 0.8 < row["relative_change"] < 1.2
    assert row["current_bounds"][0] > row["baseline_bounds"][1]


def test_same_latency_with_other_samples_is_not_a_regression(tmp_path: Path) -> None:
    rows = _rows(tmp_path, {"median_ms": 40, "seed": 1}, {"median_ms": 40, "seed": 2})
    assert rows["p95 latency, all requests"]["result"] == NO_CHANGE
    assert all(r["result"] != REGRESSED for r in rows.values())


def test_faster_run_is_an_improvement(tmp_path: Path) -> None:
    row = _rows(tmp_path, {"median_ms": 80, "seed": 1}, {"median_ms": 40, "seed": 2})["p50 latency, all requests"]
    assert row["result"] == IMPROVED


def test_error_ratio_jump_is_a_regression_by_fishers_test(tmp_path: Path) -> None:
    row = _rows(tmp_path, {"error_share": 0.001, "seed": 1}, {"error_share": 0.03, "seed": 2})[
        "error ratio, all requests"]
    assert row["result"] == REGRESSED
    assert row["p_value"] < 0.05


def test_error_ratio_wobble_is_not_a_regression(tmp_path: Path) -> None:
    row = _rows(tmp_path, {"error_share": 0.002, "seed": 1}, {"error_share": 0.002, "seed": 5})[
        "error ratio, all requests"]
    assert row["result"] == NO_CHANGE


def test_report_states_the_tests_it_used(tmp_path: Path) -> None:
    baseline = report_inputs.load_run(tmp_path, T0)
    current = report_inputs.load_run(tmp_path, T0 + timedelta(days=1), median_ms=90, seed=2)
    generate(for_run(current), baseline=for_run(baseline), pdf=False)
    html = (current / "report.html").read_text()
    assert "order-statistic bounds" in html
    assert "Fisher&#39;s exact test" in html or "Fisher's exact test" in html
    assert "regression(s) beyond noise" in (current / "summary.md").read_text()


def test_drill_figures_are_compared_without_a_test(tmp_path: Path) -> None:
    baseline = report_inputs.drill_run(tmp_path, T0, rto_s=5.0, score=90.0)
    current = report_inputs.drill_run(tmp_path, T0 + timedelta(days=1), rto_s=9.0, score=70.0)
    generate(for_run(current), baseline=for_run(baseline), pdf=False)
    rows = {r["what"]: r for r in json.loads((current / "report.json").read_text())["baseline"]["rows"]}
    assert rows["drill db-primary-loss: rto_s"]["change"] == 4.0
    assert rows["drill db-primary-loss: score"]["result"] == REGRESSED
