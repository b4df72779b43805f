"""The report builder on run folders written in the documented formats: content, absent sections, periods."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.bands import AT_RISK, EXHAUSTED, HEALTHY, INSUFFICIENT, NOT_APPLICABLE, band
from reports.builder import generate
from reports.sources import SourceError, for_period, for_run, parse_period
from rxsuite.cli import main
from slo.evaluate import evaluate_run
from slo.records import merge_by_name
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def _report(folder: Path, **kwargs: object) -> dict:
    generate(for_run(folder), pdf=False, runs_root=folder.parent, **kwargs)  # type: ignore[arg-type]
    return json.loads((folder / "report.json").read_text())


def test_load_run_report_files_and_verdict_match_the_evaluator(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0, seconds=90, rps=60)
    data = _report(folder)
    assert {p.name for p in folder.iterdir()} >= {"report.html", "summary.md", "report.json"}
    evaluation = evaluate_run(folder)
    assert data["verdict"]["verdict"] == evaluation.verdict
    assert [o["name"] for o in data["slo"]["objectives"]] == [o.name for o in evaluation.objectives]


def test_per_request_table_uses_the_merged_histograms(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0, error_share=0.05, seed=3)
    rows = {r["name"]: r for r in _report(folder)["load"]["by_request"]}
    for name, (outcomes, hist) in merge_by_name(folder).items():
        assert rows[name]["requests"] == sum(outcomes.values())
        assert rows[name]["errors"] == outcomes["http_5xx"]
        p95 = hist.value_at_percentile(95)
        assert p95 is not None
        assert rows[name]["p95_s"] == p95 / 1e6


def test_absent_sections_say_so_in_plain_words(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0)
    data = _report(folder)
    html = (folder / "report.html").read_text()
    assert data["drill"] is None and data["journeys"] is None and data["capacity"] is None
    assert "No drill ran in this report" in html
    assert "No journeys ran in this report" in html
    assert "No capacity search in this report" in html
    assert "No baseline given" in html


def test_composite_run_folder_reports_every_stage(tmp_path: Path) -> None:
    folder = report_inputs.composite_run(tmp_path, T0)
    data = _report(folder)
    assert data["load"]["requests"] > 0
    assert [j["status"] for j in data["journeys"]["journeys"]] == ["passed", "failed"]
    assert data["drill"]["scenarios"][0]["rto_s"] == 6.2
    assert data["drill"]["scenarios"][0]["has_load_latency"] is True


def test_failure_artifacts_are_linked_relative_to_the_report(tmp_path: Path) -> None:
    folder = report_inputs.composite_run(tmp_path, T0)
    data = _report(folder)
    links = data["journeys"]["journeys"][1]["artifacts"]
    assert links and all((folder / link).is_file() for link in links)
    assert f'href="{links[0]}"' in (folder / "report.html").read_text()


def test_web_vitals_are_banded(tmp_path: Path) -> None:
    folder = report_inputs.journeys_run(tmp_path, T0)
    pages = _report(folder)["journeys"]["page_loads"]
    slow = next(p for p in pages if p["journey"] == "patient-renewal")
    assert slow["vital_bands"] == {"lcp_s": "poor", "inp_s": "good", "cls": "poor", "ttfb_s": "good",
                                   "fcp_s": "good"}


def test_capacity_found_is_reported(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0)
    report_inputs.capacity_summary(folder)
    capacity = _report(folder)["capacity"]
    assert (capacity["highest_sustainable_rps"], capacity["broke_at_level"]) == (120.0, 4)


def test_drill_trend_groups_scores_by_quarter(tmp_path: Path) -> None:
    report_inputs.drill_run(tmp_path, datetime(2026, 8, 1, tzinfo=UTC), score=60.0)
    report_inputs.drill_run(tmp_path, datetime(2026, 9, 1, tzinfo=UTC), score=80.0)
    folder = report_inputs.drill_run(tmp_path, T0, score=90.0)
    quarters = _report(folder)["drill_trend"]["quarters"]
    assert [(q["quarter"], q["mean_score"]) for q in quarters] == [("2026-Q3", 70.0), ("2026-Q4", 90.0)]


def test_summary_md_stays_short_with_many_request_names(tmp_path: Path) -> None:
    names = tuple(f"GET /rest/v1/table_{i}?id=eq.[id]" for i in range(40))
    folder = report_inputs.load_run(tmp_path, T0, names=names, rps=400)
    _report(folder)
    text = (folder / "summary.md").read_text()
    assert len(text.splitlines()) <= 30
    assert len(text) <= 4000


def test_period_takes_the_runs_of_the_quarter_and_the_stages_of_run_folders(tmp_path: Path) -> None:
    report_inputs.load_run(tmp_path, datetime(2026, 9, 30, 23, 0, tzinfo=UTC))  # Q3: out
    inside = report_inputs.load_run(tmp_path, datetime(2026, 10, 2, tzinfo=UTC))
    composite = report_inputs.composite_run(tmp_path, T0)
    start, end, label = parse_period("2026-Q4", None)
    sources = for_period(tmp_path, start, end, label, tmp_path / "report-2026-Q4")
    stage_loads = [p for p in composite.iterdir() if p.name.endswith("-load-sandbox")]
    assert sorted(sources.load_dirs) == sorted([inside, *stage_loads])  # the drill's background load is not in
    assert len(sources.drill_dirs) == 1 and len(sources.journeys_dirs) == 1


def test_period_command_writes_the_report_in_its_own_folder(tmp_path: Path) -> None:
    report_inputs.load_run(tmp_path, datetime(2026, 10, 2, tzinfo=UTC))
    code = main(["report", "--period", "2026-Q4", "--runs-dir", str(tmp_path), "--no-pdf"])
    assert code in (0, 3)
    assert json.loads((tmp_path / "report-2026-Q4" / "report.json").read_text())["period"]["label"] == "2026-Q4"


@pytest.mark.parametrize("text", ["2026-Q5", "Q4-2026", "2026-13"])
def test_bad_period_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(SourceError, match=r"2026-Q4|01-12"):
        parse_period(text, None)


def test_empty_folder_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=f"{tmp_path}: nothing to report"):
        for_run(tmp_path)


@pytest.mark.parametrize(("objective", "expected"), [
    ({"verdict": "not-applicable"}, NOT_APPLICABLE),
    ({"verdict": "insufficient-data", "error_budget": {"allowed": 1, "remaining": -5, "consumed_share": 6}},
     INSUFFICIENT),
    ({"verdict": "fail", "error_budget": {"allowed": 10, "remaining": 2, "consumed_share": 0.8}}, EXHAUSTED),
    ({"verdict": "pass", "error_budget": {"allowed": 10, "remaining": 0, "consumed_share": 1.0}}, EXHAUSTED),
    ({"verdict": "pass", "error_budget": {"allowed": 10, "remaining": 2.5, "consumed_share": 0.75}}, AT_RISK),
    ({"verdict": "pass", "error_budget": {"allowed": 10, "remaining": 9, "consumed_share": 0.1},
      "burn_rates": [{"evaluated": True, "fired": True}]}, AT_RISK),
    ({"verdict": "pass", "error_budget": {"allowed": 10, "remaining": 9, "consumed_share": 0.1}}, HEALTHY),
    ({"verdict": "pass"}, HEALTHY),
    ({"verdict": "fail"}, EXHAUSTED),
])
def test_status_bands_follow_the_documented_precedence(objective: dict, expected: str) -> None:
    assert band(objective) == expected


def test_drill_suite_reports_each_scenario_and_the_suite_score(tmp_path: Path) -> None:
    folder = report_inputs.drill_suite(tmp_path, T0)
    drill = _report(folder)["drill"]
    assert [s["scenario"] for s in drill["scenarios"]] == ["db-primary-loss", "region-outage"]
    assert (drill["suites"][0]["suite"], drill["suites"][0]["score"]) == ("quarterly", 90.0)


def test_arrival_mode_shows_the_from_send_view_and_a_request_without_one_as_a_dash(tmp_path: Path) -> None:
    """load.json's `from_send` (arrival mode) beside the figures from the intended start; a request name it lacks
    (a websocket join, say) renders as empty cells, not an error."""
    folder = report_inputs.load_run(tmp_path, T0)
    first, *rest = report_inputs.NAMES
    (folder / "load.json").write_text(json.dumps({"mode": "arrival", "from_send": {"by_name": {
        first: {"p50_ms": 12.5, "p95_ms": 31.0, "p99_ms": 44.0, "max_ms": 60.0}}}}))
    generate(for_run(folder), pdf=False)
    html = (folder / "report.html").read_text()
    assert "p95 ms from send" in html
    rows = {r["name"]: r["from_send"] for r in json.loads((folder / "report.json").read_text())["load"]["by_request"]}
    assert rows[first]["p95_ms"] == 31.0 and all(rows[name] is None for name in rest)
