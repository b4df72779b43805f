"""Readable names, grouped per-request objectives, titles people choose, and event markers only where a chart's
data is (issue 21)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reports.builder import generate
from reports.charts import covered
from reports.labels import MAX_LABEL, request_labels
from reports.sources import for_run
from rxsuite.cli import main
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
NAMES = ("GET /rest/v1/medications?select=id,name,price_cents&name=ilike.[term]&limit=[n]",
         "GET /rest/v1/prescriptions?id=eq.[id]&select=*",
         "GET /rest/v1/prescriptions?status=eq.[status]&order=created_at.asc&limit=[n]",
         "PATCH /rest/v1/prescriptions?id=eq.[id]")


def _report(folder: Path, **kwargs: object) -> dict:
    generate(for_run(folder), pdf=False, **kwargs)  # type: ignore[arg-type]
    return json.loads((folder / "report.json").read_text())


def test_a_request_is_labelled_by_method_and_route() -> None:
    assert request_labels(NAMES) == {
        NAMES[0]: "GET /rest/v1/medications",
        NAMES[1]: "GET /rest/v1/prescriptions (id)",
        NAMES[2]: "GET /rest/v1/prescriptions (status)",
        NAMES[3]: "PATCH /rest/v1/prescriptions",
    }


def test_labels_stay_distinct_and_short_when_routes_collide() -> None:
    names = [f"GET /rest/v1/{'very_long_table_name_' * 3}?id=eq.{i}" for i in range(3)]
    labels = request_labels(names)
    assert len(set(labels.values())) == 3
    assert all(len(label) <= MAX_LABEL for label in labels.values())


def test_per_request_objectives_are_one_group_with_short_labels_and_full_names(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0, names=NAMES, rps=80)
    slo = _report(folder)["slo"]
    group = next(g for g in slo["groups"] if g["name"] == "latency-p95-per-request")
    rows = [o for o in slo["objectives"] if o["group"] == "latency-p95-per-request"]
    assert (group["requests"], sorted(group["rows"])) == (4, sorted(o["name"] for o in rows))
    assert sorted(o["request"] for o in rows) == sorted(NAMES)
    assert {o["label"] for o in rows} == set(request_labels(NAMES).values())
    html = (folder / "report.html").read_text()
    assert html.count('title="latency-p95-per-request[') == 4  # the full name on hover, once per request row


def test_default_title_names_environment_jobs_and_date(tmp_path: Path) -> None:
    folder = report_inputs.composite_run(tmp_path, T0)
    assert _report(folder)["title"] == "Sandbox: load, journeys and drill test, 20 November 2026"


def test_title_option_sets_the_title_everywhere(tmp_path: Path) -> None:
    folder = report_inputs.load_run(tmp_path, T0)
    code = main(["report", str(folder), "--title", "Release 4.2 pre-release load", "--no-pdf"])
    assert code in (0, 3)
    assert json.loads((folder / "report.json").read_text())["title"] == "Release 4.2 pre-release load"
    assert "<title>Release 4.2 pre-release load</title>" in (folder / "report.html").read_text()
    assert "Release 4.2 pre-release load" in (folder / "summary.md").read_text().splitlines()[0]


def test_only_events_within_the_data_are_markers() -> None:
    markers: list[dict[str, Any]] = [{"event": "fault_injected", "unix": 100.0}, {"event": "recovered", "unix": 130.0},
               {"event": "rollback_done", "unix": None}]
    assert covered(markers, 90.0, 120.0) == [markers[0]]
    assert covered(markers, 131.0, 200.0) == []


def test_a_drill_after_the_load_is_not_drawn_on_the_load_chart(tmp_path: Path) -> None:
    folder = report_inputs.composite_run(tmp_path, T0)  # the load ends at +50 s, the fault comes at +55 s
    data = _report(folder)
    fault = next(m["unix"] for m in data["drill"]["scenarios"][0]["timeline"] if m["event"] == "fault_injected")
    assert fault > data["load"]["end"]
    html = (folder / "report.html").read_text()
    assert "drawn on the drill's own probe timeline" in html
    assert "dotted: drill events" not in html.split('<section id="throughput">')[0]


def test_a_drill_during_the_load_is_marked_on_the_load_chart(tmp_path: Path) -> None:
    folder = tmp_path / f"{T0:%Y%m%dT%H%M%SZ}-run-sandbox"
    folder.mkdir()
    report_inputs.run_json(folder, "run", T0)
    report_inputs.load_run(folder, T0, seconds=60)
    report_inputs.drill_run(folder, T0 + timedelta(seconds=10))
    _report(folder)
    latency = (folder / "report.html").read_text().split('<section id="latency">')[1].split("</section>")[0]
    assert "dotted: drill events" in latency
    assert "probe timeline" not in latency
