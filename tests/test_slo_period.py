"""Period reports and budgeting methods against a real Prometheus holding series the test wrote.

The quarter (2026-Q3) holds sparse samples whose counts are known exactly: a counter's value at a few instants is
all Prometheus keeps, and rxsuite's exact per-step counting must give back their differences. Four hours of
1 h slices, uneven in traffic, make Occurrences, Timeslices and RatioTimeslices (OpenSLO) give three different
answers, each computed here by hand.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rxcore.exitcodes import ExitCode
from rxsuite.cli import main
from slo.evaluate import evaluate_runs
from slo.histogram import Histogram
from slo.prometheus import PrometheusClient
from slo.promsource import evaluate_prometheus
from slo.records import OUTCOMES, RecordWriter, WindowRecord
from slo.spec import load_spec
from slo.windows import Window
from tests import report_inputs
from tests.test_slo_prometheus import serving

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                                reason="needs Debian's prometheus package (make deps installs it)")

_PORT = 19092 + int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "1000"))
_Q3 = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
_AUG10 = int(datetime(2026, 8, 10, 12, tzinfo=UTC).timestamp())
_SEP30 = int(datetime(2026, 9, 30, 23, tzinfo=UTC).timestamp())
_SLICES = int(datetime(2026, 8, 20, tzinfo=UTC).timestamp())  # four 1 h slices from here

# Counter values at the instants Prometheus holds (a series first seen holding a value counts it as events).
_REQUESTS = {
    ("200", "/a"): [(_Q3 + 30, 0), (_AUG10, 400_000), (_SEP30, 999_000)],
    ("500", "/a"): [(_AUG10, 300), (_SEP30, 500)],
    ("200", "/b"): [(_Q3 + 30, 0), (_SEP30, 20_000)],
    ("500", "/b"): [(_SEP30, 200)],  # /b fails 1 % of its requests: the bad route
}
_BUCKETS = {"0.5": 700_000, "1.0": 950_000, "3.0": 980_000, "+Inf": 1_000_000}  # p95 in (0.5 s, 1 s]; 98 % <= 3 s
# Per hour: (good, bad). Occurrences 1270 / 1300; Timeslices (95 % a slice) 3 of 4; RatioTimeslices the mean of
# 0.99, 1, 1 and 0.8.
_HOURS = [(990, 10), (100, 0), (100, 0), (80, 20)]
OCCURRENCES, TIMESLICES, RATIO_TIMESLICES = 1270 / 1300, 3 / 4, (0.99 + 1 + 1 + 0.8) / 4


def _openmetrics() -> str:
    lines = ["# HELP rx_requests Requests served.", "# TYPE rx_requests counter"]
    for (code, route), samples in _REQUESTS.items():
        lines += [f'rx_requests_total{{code="{code}",route="{route}"}} {value} {t}' for t, value in samples]
    lines += ["# HELP rx_latency_seconds Request latency.", "# TYPE rx_latency_seconds histogram"]
    for le, count in _BUCKETS.items():
        lines += [f'rx_latency_seconds_bucket{{le="{le}"}} 0 {_Q3 + 30}',
                  f'rx_latency_seconds_bucket{{le="{le}"}} {count} {_SEP30}']
    lines += [f"rx_latency_seconds_count 0 {_Q3 + 30}", f"rx_latency_seconds_count 1000000 {_SEP30}",
              f"rx_latency_seconds_sum 0 {_Q3 + 30}", f"rx_latency_seconds_sum 400000 {_SEP30}"]
    lines += ["# HELP rx_slices Requests of the slice test.", "# TYPE rx_slices counter"]
    for code, column in (("200", 0), ("500", 1)):
        total = 0
        for hour, counts in enumerate(_HOURS):
            total += counts[column]
            lines.append(f'rx_slices_total{{code="{code}"}} {total} {_SLICES + hour * 3600 + 3570}')
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusClient]:
    with serving(tmp_path_factory.mktemp("quarter"), _openmetrics(), _PORT) as found:
        yield found


def _spec_file(folder: Path, objectives: list[dict[str, Any]]) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({"format": "rxsuite-slo/1", "name": "period", "series_step": "1m",
                                    "objectives": objectives}))
    return path


_TOTAL, _BAD = "rx_requests_total", 'rx_requests_total{code="500"}'
_QUARTER_OBJECTIVES: list[dict[str, Any]] = [
    {"name": "availability", "kind": "availability", "objective": "99.9%", "headline": True,
     "prometheus": {"total": _TOTAL, "bad": _BAD}},
    {"name": "latency-p95", "kind": "latency", "percentile": 95, "threshold": "3s", "headline": True,
     "prometheus": {"histogram": "rx_latency_seconds", "buckets": [0.5, 1, 3]}},
    {"name": "availability-by-route", "kind": "availability", "objective": "99.9%",
     "prometheus": {"total": _TOTAL, "bad": _BAD, "by": ["route"]}},
    {"name": "rto", "kind": "rto", "threshold": "5m"},  # from the quarter's drill run folder
]


@pytest.fixture(scope="module")
def quarter(client: PrometheusClient, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    """`rxsuite report --period 2026-Q3 --env` with one drill run folder in the quarter: exit code, report.json,
    the folder."""
    folder = tmp_path_factory.mktemp("report")
    report_inputs.drill_run(folder / "runs", datetime(2026, 9, 3, 14, tzinfo=UTC))
    env = folder / "prod.yaml"
    env.write_text(yaml.safe_dump({"name": "prod", "kind": "staging", "base_url": "https://rx.example.org",
                                   "prometheus": {"url": client.url}}))
    code = main(["report", "--period", "2026-Q3", "--env", str(env), "--spec",
                 str(_spec_file(folder, _QUARTER_OBJECTIVES)), "--runs-dir", str(folder / "runs"), "--output",
                 str(folder / "out"), "--no-pdf"])
    return code, json.loads((folder / "out" / "report.json").read_text()), folder / "out"


def _row(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in data["slo"]["objectives"] if o["name"] == name)


def test_a_quarter_from_prometheus_shows_the_written_availability_and_its_source(quarter, client) -> None:
    _, data, _ = quarter
    row = _row(data, "availability")
    total, bad = 999_500 + 20_200, 700
    assert row["samples"] == total
    assert row["measured"] == pytest.approx((total - bad) / total, abs=1e-15)
    assert row["verdict"] == "pass" and row["ci"]["lower"] >= 0.999
    assert row["source"]["type"] == "prometheus" and row["source"]["window"] == "2026-Q3"
    assert row["source_text"] == (f"Prometheus {client.url}, 2026-Q3: bad {_BAD} of total {_TOTAL} "
                                  f"({row['source']['queries']} queries, exact counts per 300 s step)")
    assert data["period"]["start"].startswith("2026-07-01") and data["period"]["end"].startswith("2026-10-01")


def test_a_quarter_from_prometheus_shows_the_latency_share_and_the_buckets_bracket(quarter) -> None:
    _, data, _ = quarter
    row = _row(data, "latency-p95")
    assert row["measured"] == pytest.approx(0.98, abs=1e-15) and row["samples"] == 1_000_000
    assert row["bucket_bounds"]["bounds_s"] == [0.5, 1.0]
    assert row["verdict"] == "pass"


def test_the_summary_answers_whether_the_promises_held_with_intervals_and_sources(quarter, client) -> None:
    _, data, folder = quarter
    held = data["summary"]["held"]
    assert [parts[0]["full"] for parts in held] == ["availability", "latency-p95"]
    availability = _row(data, "availability")
    figures = [p for p in held[0] if isinstance(p, dict) and "value" in p]
    assert [f["value"] for f in figures[:3]] == [availability["measured"], availability["ci"]["lower"],
                                                  availability["ci"]["upper"]]
    assert held[0][1] == ": held" and availability["source_text"] in [p.get("name") for p in held[0]
                                                                     if isinstance(p, dict)]
    html = (folder / "report.html").read_text()
    assert "Did we hold the promises" in html and f"Prometheus {client.url}, 2026-Q3" in html
    assert f"from Prometheus {client.url}, 2026-Q3" in (folder / "summary.md").read_text()


def test_what_prometheus_cannot_measure_comes_from_the_periods_run_folders(quarter) -> None:
    _, data, _ = quarter
    rto = _row(data, "rto")
    assert rto["source"] == {"type": "run folders", "folders": ["20260903T140000Z-drill-sandbox"]}
    assert rto["measured"] == 6.2 and rto["source_text"] == "run folders: 20260903T140000Z-drill-sandbox"
    assert [(s["type"], s["objectives"]) for s in data["slo"]["sources"]] == [
        ("prometheus", ["availability", "latency-p95", "availability-by-route"]), ("run folders", ["rto"])]


def test_env_with_a_run_folder_is_refused_with_the_fix(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path), "--env", "sandbox", "--no-pdf"]) == ExitCode.ERROR
    assert "--env reads a period from Prometheus: give --period or --since" in capsys.readouterr().err


def test_a_by_route_objective_from_prometheus_fails_the_one_bad_route(quarter) -> None:
    code, data, _ = quarter
    a, b = _row(data, "availability-by-route[/a]"), _row(data, "availability-by-route[/b]")
    assert (a["verdict"], a["samples"], a["measured"]) == ("pass", 999_500, pytest.approx(999_000 / 999_500))
    assert (b["verdict"], b["samples"], b["measured"]) == ("fail", 20_200, pytest.approx(20_000 / 20_200))
    assert code == ExitCode.FAIL


_SLICE_OBJECTIVES: list[dict[str, Any]] = [
    {"name": "occurrences", "kind": "availability", "objective": "90%"},
    {"name": "timeslices", "kind": "availability", "objective": "90%", "budgeting": "timeslices", "slice": "1h",
     "slice_objective": "95%"},
    {"name": "ratio-timeslices", "kind": "availability", "objective": "90%", "budgeting": "ratio_timeslices",
     "slice": "1h"},
]


def test_the_three_budgeting_methods_from_prometheus_give_their_hand_computed_values(client, tmp_path) -> None:
    objectives = [{**o, "prometheus": {"total": "rx_slices_total", "bad": 'rx_slices_total{code="500"}'}}
                  for o in _SLICE_OBJECTIVES]
    spec = load_spec(_spec_file(tmp_path, objectives))
    results = evaluate_prometheus(spec, client, Window(_SLICES, _SLICES + 4 * 3600, "4h")).objectives
    assert [r.measured for r in results] == pytest.approx([OCCURRENCES, TIMESLICES, RATIO_TIMESLICES], abs=1e-12)
    assert [r.samples for r in results] == [1300, 4, 4]


def test_the_three_budgeting_methods_from_a_run_folder_give_the_same_values(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        for hour, (good, bad) in enumerate(_HOURS):
            histogram = Histogram()
            histogram.record(20_000, good)
            writer.write_window(WindowRecord(start=_SLICES + hour * 3600 + 600, duration_s=1.0, name="GET /",
                                             outcomes=dict.fromkeys(OUTCOMES, 0) | {"ok": good, "http_5xx": bad},
                                             histogram=histogram))
    results = evaluate_runs([tmp_path], load_spec(_spec_file(tmp_path, _SLICE_OBJECTIVES))).objectives
    assert [r.measured for r in results] == pytest.approx([OCCURRENCES, TIMESLICES, RATIO_TIMESLICES], abs=1e-12)


def test_an_openslo_ratio_timeslices_slo_reads_prometheus_as_the_mean_of_slice_ratios(client, tmp_path) -> None:
    path = tmp_path / "openslo.yaml"
    source = {"metricSource": {"type": "Prometheus", "spec": {"query": "rx_slices_total"}}}
    path.write_text(yaml.safe_dump({
        "apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "slices"},
        "spec": {"budgetingMethod": "RatioTimeslices", "timeWindow": [{"duration": "4h", "isRolling": True}],
                 "objectives": [{"target": 0.9, "timeSliceWindow": "1h"}],
                 "indicator": {"metadata": {"name": "ok"}, "spec": {"ratioMetric": {
                     "counter": True, "total": source,
                     "bad": {"metricSource": {"type": "Prometheus",
                                              "spec": {"query": 'rx_slices_total{code="500"}'}}}}}}}}))
    result = evaluate_prometheus(load_spec(path), client, Window(_SLICES, _SLICES + 4 * 3600, "4h")).objectives[0]
    assert result.measured == pytest.approx(RATIO_TIMESLICES, abs=1e-12)
    assert result.details["budgeting"] == "ratio_timeslices"
    assert result.ci is not None and result.ci["method"].startswith("empirical Bernstein")


def test_a_slice_target_with_ratio_timeslices_is_refused_naming_the_field(tmp_path: Path) -> None:
    from slo.spec import SpecError

    objective = {**_SLICE_OBJECTIVES[2], "slice_objective": "95%"}
    with pytest.raises(SpecError, match=r"slice_objective: only allowed with `budgeting: timeslices`"):
        load_spec(_spec_file(tmp_path, [objective]))
