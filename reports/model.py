"""The report's content as one JSON-able model (it is report.json), built from the run folders a `Sources` names.

Every figure comes from the packages that own it: verdicts, intervals and budgets from `slo.evaluate`; drill RTO,
RPO, scores and timelines from the drill journal (`chaos/`); journeys from journeys.json. This module selects and
arranges; `reports.series` and `reports.compare` call the slo package for what charts and comparisons need.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports import bands
from reports.compare import compare
from reports.labels import request_labels
from reports.series import LoadSeries, by_request, load_series
from reports.sources import Sources, read_run_json, run_started
from reports.summary import summarise
from slo.artifacts import DRILL_FILE, JOURNEYS_FILE
from slo.evaluate import SLO_FILE, Evaluation
from slo.percentile import percentile
from slo.sli import RunFolderSli, SliSource, evaluate_sources, source_of
from slo.spec import Spec

FORMAT = "rxsuite-report/1"
LOAD_SUMMARY_FILE = "load.json"
# Core Web Vitals bands (web.dev): good up to the first value, poor above the second.
VITAL_BANDS: dict[str, tuple[float, float, str]] = {
    "lcp_s": (2.5, 4.0, "s"), "inp_s": (0.2, 0.5, "s"), "cls": (0.1, 0.25, ""),
    "ttfb_s": (0.8, 1.8, "s"), "fcp_s": (1.8, 3.0, "s"),
}
_DRILL_MARKERS = ("fault_injected", "first_failure_seen", "recovered", "rollback_done")


@dataclass
class DrillView:
    """One scenario journal with what its charts need."""

    journal: dict[str, Any]
    folder: Path
    load_series: LoadSeries | None = None


@dataclass
class Report:
    data: dict[str, Any]
    load: LoadSeries | None = None
    drills: list[DrillView] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)


def build(sources: Sources, spec: Spec, runs_root: Path | None = None, baseline: Sources | None = None,
          now: datetime | None = None, title: str | None = None) -> Report:
    """The report's content; `title` replaces the default one (environment, jobs and date)."""
    evaluation = evaluate(sources, spec)
    slo = evaluation.to_dict()
    load = load_series(sources.load_dirs, spec)
    journeys = _journeys(sources)
    drills = _drills(sources, spec)
    trend = drill_trend(runs_root, until=_period_end(sources)) if runs_root is not None else []
    data: dict[str, Any] = {
        "format": FORMAT,
        "title": title or default_title(sources),
        "generated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "kind": "period" if sources.period else "run",
        "period": sources.period,
        "runs": sources.runs,
        "environment": _environment(sources),
        "verdict": _verdict(evaluation),
        "slo": _slo_section(slo, spec),
        "load": _load_section(sources, load),
        "journeys": journeys,
        "drill": _drill_section(drills, _suites(sources)),
        "drill_trend": _trend_section(trend),
        "capacity": _capacity(sources),
        "baseline": None,
        "previous_run": previous_run(sources, runs_root) if runs_root is not None else None,
    }
    if baseline is not None:
        before = _journeys(baseline)
        data["baseline"] = compare(sources, baseline, spec, (journeys or {}).get("steps", []),
                                   (before or {}).get("steps", []), _drill_figures(drills),
                                   _drill_figures(_drills(baseline, spec)))
        data["baseline"]["regression_count"] = len(data["baseline"]["regressions"])
    data["summary"] = summarise(data)
    return Report(data=data, load=load, drills=drills, trend=trend)


def evaluate(sources: Sources, spec: Spec) -> Evaluation:
    """The report's one evaluation: its SLI sources first (a period's Prometheus), then its run folders
    (slo.sli.evaluate_sources: per objective, the first source that could judge it)."""
    slis: list[SliSource] = [*sources.sli]
    if sources.all_dirs or not slis:
        slis.append(RunFolderSli(tuple(sources.all_dirs)))
    return evaluate_sources(spec, slis)


def _verdict(evaluation: Evaluation) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for objective in evaluation.objectives:
        counts[objective.verdict] = counts.get(objective.verdict, 0) + 1
    headline_first = sorted(evaluation.objectives, key=lambda o: o.request is not None)  # overall before per-request
    failed = [o.name for o in headline_first if o.verdict == "fail"]
    unsure = [o.name for o in headline_first if o.verdict == "insufficient-data"]
    confidence = f"{evaluation.confidence:.0%} confidence"
    headline = {
        "pass": f"Every applicable SLO was met (shown at {confidence}).",
        "fail": f"{len(failed)} SLO(s) not met: {_first(failed)}.",
        "insufficient-data": f"No SLO failed, but {len(unsure)} objective(s) cannot be shown at {confidence} yet "
                             f"(too few samples): {_first(unsure)}.",
        "invalid": "The run's own measurement cannot be trusted (its generator or probes could not keep up): no SLO "
                   "is judged.",
    }[evaluation.verdict]
    return {"verdict": evaluation.verdict, "exit_code": evaluation.exit_code, "headline": headline,
            "release_verdict": evaluation.release_verdict, "headline_objectives": list(evaluation.headline),
            "counts": counts, "failed": failed, "insufficient": unsure, "validity": evaluation.validity.to_dict()}


def _first(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def default_title(sources: Sources) -> str:
    """Environment, jobs and date: "Sandbox: load, journeys and drill test, 20 November 2026"; a period names itself."""
    environment = ", ".join(_environment(sources)["names"]) or "Unnamed"
    environment = environment[:1].upper() + environment[1:]
    if sources.period:
        return f"{environment}: every run of {sources.period['label']}"
    jobs = [job for job in ("load", "journeys", "drill") if getattr(sources, f"{job}_dirs")]
    listed = " and ".join([", ".join(jobs[:-1]), jobs[-1]] if len(jobs) > 1 else jobs)
    starts = sorted(r["started_at"] for r in sources.runs if r.get("started_at"))
    when = _parse_time(starts[0]) if starts else None
    return f"{environment}: {listed} test" + (f", {when.day} {when:%B %Y}" if when else "")


def _slo_section(slo: dict[str, Any], spec: Spec) -> dict[str, Any]:
    labels = request_labels(o["request"] for o in slo["objectives"] if o.get("request") is not None)
    descriptions = {o.name: o.description for o in spec.objectives}
    rows = []
    for o in slo["objectives"]:
        request = o.get("request")
        group = o["name"][:-len(request) - 2] if request is not None else None
        burn = next((b for b in o.get("burn_rates") or [] if b.get("evaluated")), None)
        rows.append({
            "name": o["name"], "kind": o["kind"], "objective": o.get("objective"), "verdict": o["verdict"],
            "band": bands.band(o), "measured": o.get("measured"), "target": o.get("target"), "unit": o.get("unit"),
            "samples": o.get("samples"), "ci": o.get("ci"), "budget_remaining_share": bands.budget_remaining_share(o),
            "error_budget": o.get("error_budget"), "sufficiency": o.get("sufficiency"), "burn": burn,
            "reason": o.get("reason"), "request": request, "group": group,
            "source": (o.get("details") or {}).get("source"), "source_text": source_of(o),
            "bucket_bounds": _bucket_bounds(o),
            "label": labels[request] if request is not None else o["name"],
            "description": descriptions.get(group or o["name"]) or None,
        })
    kinds = list(dict.fromkeys(row["source"]["type"] for row in rows if row["source"]))
    sources = _sources(rows)
    return {"spec": slo["spec"], "confidence": slo["confidence"], "rate_limited": slo["rate_limited"],
            "source_kinds": kinds, "sources": sources,
            "start": slo["start"], "end": slo["end"], "notes": slo["notes"], "objectives": rows,
            "bands": {"at_risk_share": bands.AT_RISK_SHARE}, "groups": _groups(rows)}


def _sources(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each source the report's numbers come from (a Prometheus, a monitor record, the run folders) and the spec
    objectives it answered: the one-line answer to "where does this number come from?" in summary.md."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        source = row["source"]
        if not source:
            continue
        where = source.get("url") or source.get("folder") or ", ".join(source.get("folders") or [])
        key = f"{source['type']} {where}"
        entry = out.setdefault(key, {"type": source["type"], "where": where, "window": source.get("window"),
                                     "objectives": []})
        name = row["group"] or row["name"]
        if name not in entry["objectives"]:
            entry["objectives"].append(name)
    return list(out.values())


def _bucket_bounds(o: dict[str, Any]) -> dict[str, Any] | None:
    """A Prometheus latency result's percentile bracket from the histogram's buckets: {"field", "bounds_s"}."""
    details = o.get("details") or {}
    key = next((k for k in details if k.startswith("p") and k.endswith("_bounds_s") and details[k]), None)
    return {"field": key, "percentile": key[:-len("_bounds_s")], "bounds_s": details[key]} if key else None


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-request objectives by the spec objective they come from: one table each, worst request first."""
    out = []
    for name in dict.fromkeys(o["group"] for o in rows if o["group"] is not None):
        mine = [o for o in rows if o["group"] == name and o["verdict"] != "not-applicable"]
        if not mine:
            continue
        mine.sort(key=_worst_first)
        out.append({"name": name, "objective": mine[0]["objective"], "description": mine[0]["description"],
                    "requests": len(mine), "failed": sum(o["verdict"] == "fail" for o in mine),
                    "insufficient": sum(o["verdict"] == "insufficient-data" for o in mine), "worst": mine[0]["name"],
                    "rows": [o["name"] for o in mine]})
    return out


def _worst_first(row: dict[str, Any]) -> tuple[int, float]:
    """Failed, then unsure, then met; within each the highest measured value (latency: the slowest) first."""
    return {"fail": 0, "insufficient-data": 1, "pass": 2}.get(row["verdict"], 3), -(row["measured"] or 0)


def _load_section(sources: Sources, load: LoadSeries | None) -> dict[str, Any] | None:
    if load is None:
        return None
    rows = by_request(sources.load_dirs)
    labels = request_labels(r["name"] for r in rows)
    rows = [{**r, "label": labels[r["name"]]} for r in rows]
    requests = sum(r["requests"] for r in rows)
    span = max(load.end - load.start, 1e-9)
    return {"folders": [d.name for d in sources.load_dirs], "start": load.start, "end": load.end,
            "duration_s": load.end - load.start, "requests": requests, "mean_rps": requests / span,
            "errors": sum(r["errors"] for r in rows), "rate_limited": sum(r["rate_limited"] for r in rows),
            "test_errors_4xx": sum(r["test_errors_4xx"] for r in rows), "chart_step_s": load.step_s,
            "by_request": _with_from_send(rows, sources), "profiles": _load_parameters(sources)}


def _with_from_send(rows: list[dict[str, Any]], sources: Sources) -> list[dict[str, Any]]:
    """Arrival mode's second view (latency from the actual send, load.json `from_send`) beside each request's
    figures from the intended start; one run's only, as percentiles of several runs cannot be merged."""
    by_name: dict[str, Any] = {}
    if len(sources.load_dirs) == 1:
        try:
            summary = json.loads((sources.load_dirs[0] / LOAD_SUMMARY_FILE).read_text(encoding="utf-8"))
            by_name = (summary.get("from_send") or {}).get("by_name") or {}
        except (OSError, ValueError, AttributeError):
            by_name = {}
    return [{**row, "from_send": by_name.get(row["name"])} for row in rows]


def _load_parameters(sources: Sources) -> list[dict[str, Any]]:
    """What load each folder applied (a whitelist of run.json parameters: never free text)."""
    out = []
    for folder in sources.load_dirs:
        params = read_run_json(folder).get("parameters") or {}
        out.append({"folder": folder.name, **{k: params.get(k) for k in ("profile", "mode", "users", "rate",
                                                                          "duration_s", "processes")}})
    return out


def _journeys(sources: Sources) -> dict[str, Any] | None:
    if not sources.journeys_dirs:
        return None
    steps: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    journeys: list[dict[str, Any]] = []
    for folder in sources.journeys_dirs:
        data = json.loads((folder / JOURNEYS_FILE).read_text(encoding="utf-8"))
        steps.extend(s for s in data.get("steps") or [] if isinstance(s, dict))
        for page in data.get("page_loads") or []:
            if isinstance(page, dict):
                pages.append({**page, "vital_bands": _vital_bands(page.get("vitals") or {})})
        for item in data.get("journeys") or []:
            if isinstance(item, dict):
                journeys.append({**_journey(folder, item, sources.output_dir), "folder": folder.name})
    if not journeys:  # journeys.json without a per-journey list: derive it from the steps
        for name in dict.fromkeys(s.get("journey") for s in steps):
            mine = [s for s in steps if s.get("journey") == name]
            ok = all(s.get("ok", True) for s in mine)
            journeys.append({"name": name, "ok": ok, "status": "passed" if ok else "failed", "folder": None,
                             "duration_s": sum(s.get("duration_s") or 0 for s in mine), "error": next(
                                 (s.get("error") for s in mine if not s.get("ok", True)), None),
                             "artifacts": [a for s in mine for a in _artifact_links(sources.journeys_dirs[0], s,
                                                                                   sources.output_dir)]})
    return {"folders": [d.name for d in sources.journeys_dirs], "journeys": journeys, "steps": steps,
            "page_loads": pages, "pages": _pages(pages), "vital_bands": {k: {"good": v[0], "poor": v[1], "unit": v[2]}
                                                 for k, v in VITAL_BANDS.items()},
            "passed": sum(1 for j in journeys if j["status"] == "passed"),
            "flaky": sum(1 for j in journeys if j["status"] == "flaky"),
            "failed": sum(1 for j in journeys if j["status"] == "failed")}


def _journey(folder: Path, item: dict[str, Any], report_dir: Path) -> dict[str, Any]:
    """One journey of journeys.json: its outcome (passed, flaky, failed, skipped), last error, artifacts."""
    attempts = [a for a in item.get("attempts") or [] if isinstance(a, dict)]
    outcome = item.get("outcome") or ("passed" if item.get("ok") else "failed")
    failed = [a for a in attempts if a.get("outcome") == "failed"]
    return {"name": item.get("journey") or item.get("name"), "ok": outcome == "passed", "status": outcome,
            "attempts": len(attempts), "duration_s": attempts[-1].get("duration_s") if attempts else None,
            "error": (failed[-1].get("error") if failed else item.get("error")),
            "artifacts": list(dict.fromkeys(a for attempt in attempts or [item]
                                            for a in _artifact_links(folder, attempt, report_dir)))}


def _vital_bands(vitals: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in vitals.items():
        if key in VITAL_BANDS and isinstance(value, int | float):
            good, poor, _ = VITAL_BANDS[key]
            out[key] = "good" if value <= good else "needs improvement" if value <= poor else "poor"
    return out


def _pages(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per journey and page: the p75 of each vital (the web-vitals convention, nearest rank) and its band."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for load in loads:
        groups.setdefault((str(load.get("journey")), str(load.get("page"))), []).append(load)
    out = []
    for (journey, page), mine in groups.items():
        p75 = {}
        for key in VITAL_BANDS:
            values = [v["vitals"][key] for v in mine if isinstance((v.get("vitals") or {}).get(key), int | float)]
            if values:
                p75[key] = percentile(values, 75)
        loads_s = [v["load_s"] for v in mine if isinstance(v.get("load_s"), int | float)]
        out.append({"journey": journey, "page": page, "loads": len(mine),
                    "load_p75_s": percentile(loads_s, 75),
                    "vitals_p75": p75, "bands": _vital_bands(p75)})
    return out


def _artifact_links(folder: Path, item: dict[str, Any], report_dir: Path) -> list[str]:
    """Paths, relative to the report, of a journey's failure artifacts (screenshots, traces) that exist."""
    found: list[str] = []
    raw = item.get("artifacts")
    candidates = list(raw.values()) if isinstance(raw, dict) else list(raw or [])
    candidates += [item[k] for k in ("screenshot", "trace", "video") if isinstance(item.get(k), str)]
    for entry in candidates:
        path = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(path, str) and (folder / path).is_file():
            found.append(os.path.relpath(folder / path, report_dir))
    return found


def _drills(sources: Sources, spec: Spec) -> list[DrillView]:
    views = []
    for folder in sources.drill_dirs:
        data = json.loads((folder / DRILL_FILE).read_text(encoding="utf-8"))
        if data.get("kind") == "drill":
            views.append(_drill_view(data, folder, spec))
        else:  # the minimal rxsuite-drill/1 shape: figures only
            for item in data.get("scenarios") or []:
                views.append(DrillView({"kind": "drill", "scenario": item.get("name"), **item}, folder))
    return views


def _suites(sources: Sources) -> list[dict[str, Any]]:
    out = []
    for folder in sources.drill_suites:
        data = json.loads((folder / DRILL_FILE).read_text(encoding="utf-8"))
        out.append({k: data.get(k) for k in ("suite", "status", "verdict", "score", "as_expected", "duration_s")}
                   | {"folder": folder.name, "not_run": [s.get("scenario") for s in data.get("scenarios") or []
                                                         if s.get("status") == "not run"]})
    return out


def _drill_view(journal: dict[str, Any], folder: Path, spec: Spec) -> DrillView:
    """A scenario journal, with the latency of its background load (its own run folder under load/)."""
    loads = sorted(p.parent for p in (folder / "load").glob("*/latency.jsonl")) if (folder / "load").is_dir() else []
    return DrillView(journal, folder, load_series(loads, spec) if loads else None)


def _drill_section(drills: list[DrillView], suites: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not drills and not suites:
        return None
    scenarios = []
    for view in drills:
        j = view.journal
        scenarios.append({
            "scenario": j.get("scenario"), "folder": view.folder.name, "description": j.get("description"),
            "status": j.get("status"), "verdict": j.get("verdict"), "score": j.get("score"),
            "expect": j.get("expect"), "as_expected": j.get("as_expected"), "reason": j.get("reason"),
            "rto_s": j.get("rto_s"), "rpo_s": j.get("rpo_s"), "rpo_count": j.get("rpo_count"),
            "time_to_detect_s": j.get("time_to_detect_s"), "downtime_s": j.get("downtime_s"),
            "errors_during_fault": j.get("errors_during_fault"), "ledger": _ledger(j.get("ledger")),
            "objectives": [{k: o.get(k) for k in ("name", "metric", "op", "target", "measured", "met", "weight",
                                                   "critical", "detail")} for o in j.get("objectives") or []],
            "time_to_alert_s": j.get("time_to_alert_s"), "time_to_notify_s": j.get("time_to_notify_s"),
            "time_to_resolve_s": j.get("time_to_resolve_s"), "alerting": _alerting(j.get("alerting")),
            "timeline": [{"event": e.get("event"), "at": e.get("at"), "unix": e.get("unix")}
                         for e in j.get("timeline") or [] if e.get("event") in _DRILL_MARKERS],
            "rollbacks_ok": j.get("rollbacks_ok"),
            "has_probe_series": bool(j.get("series")),
            "has_load_latency": view.load_series is not None,
        })
    scored = [s["score"] for s in scenarios if isinstance(s["score"], int | float)]
    return {"scenarios": scenarios, "suites": suites, "mean_score": sum(scored) / len(scored) if scored else None,
            "all_as_expected": all(s["as_expected"] for s in scenarios)}


def _alerting(alerting: Any) -> dict[str, Any] | None:
    """Whether the drill checked its alerts, and what it found (missed, late, unexpected pages)."""
    if not isinstance(alerting, dict):
        return None
    return {"checked": alerting.get("checked"), "findings": alerting.get("findings") or [],
            "unexpected": [a.get("name") for a in alerting.get("unexpected") or []]}


def _ledger(ledger: Any) -> dict[str, Any] | None:
    if not isinstance(ledger, dict):
        return None
    return {k: ledger.get(k) for k in ("acknowledged", "lost", "in_doubt", "in_doubt_found_committed")}


def _drill_figures(drills: list[DrillView]) -> list[dict[str, Any]]:
    return [{"scenario": v.journal.get("scenario"), "rto_s": v.journal.get("rto_s"),
             "rpo_s": v.journal.get("rpo_s"), "score": v.journal.get("score")} for v in drills]


def drill_trend(runs_root: Path, until: datetime | None = None) -> list[dict[str, Any]]:
    """Every finished scenario journal under the runs folder (top-level drills, suite scenarios, stages of
    `rxsuite run` folders), oldest first: the points of the quarterly trend."""
    points: list[dict[str, Any]] = []
    if not runs_root.is_dir():
        return points
    patterns = ("*/drill.json", "*/scenarios/*/drill.json", "*/*/drill.json", "*/*/scenarios/*/drill.json")
    seen: set[Path] = set()
    for pattern in patterns:
        for path in runs_root.glob(pattern):
            if path in seen:
                continue
            seen.add(path)
            try:
                journal = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if journal.get("kind") != "drill" or journal.get("status") not in ("completed", "aborted"):
                continue
            when = _parse_time(journal.get("started_at"))
            if when is None or (until is not None and when >= until) or journal.get("score") is None:
                continue
            points.append({"scenario": journal.get("scenario"), "started_at": when.isoformat(),
                           "quarter": f"{when.year}-Q{(when.month - 1) // 3 + 1}", "score": journal["score"],
                           "verdict": journal.get("verdict"), "environment": journal.get("environment"),
                           "time_to_alert_s": journal.get("time_to_alert_s"),
                           "time_to_notify_s": journal.get("time_to_notify_s")})
    return sorted(points, key=lambda p: p["started_at"])


def _trend_section(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not points:
        return None
    quarters: dict[str, dict[str, list[float]]] = {}
    for p in points:
        quarters.setdefault(p["quarter"], {}).setdefault(p["scenario"], []).append(float(p["score"]))
    table = [{"quarter": q, "drills": sum(len(v) for v in by.values()),
              "mean_score": sum(sum(v) for v in by.values()) / sum(len(v) for v in by.values()),
              "by_scenario": {s: sum(v) / len(v) for s, v in sorted(by.items())}}
             for q, by in sorted(quarters.items())]
    return {"quarters": table, "drills": len(points)}


def _capacity(sources: Sources) -> dict[str, Any] | None:
    for folder in sources.load_dirs:
        try:
            summary = json.loads((folder / LOAD_SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        capacity = summary.get("capacity")
        if isinstance(capacity, dict):
            return {"folder": folder.name, **{k: capacity.get(k) for k in (
                "highest_sustainable_rps", "at_level", "broke_at_level", "broke_because", "slo")},
                "steps": [{k: s.get(k) for k in ("level", "achieved_rps", "bad_ratio", "p95_ms", "held", "why_not")}
                          for s in capacity.get("steps") or []]}
    return None


def _environment(sources: Sources) -> dict[str, Any]:
    names = sorted({r["environment"] for r in sources.runs if r.get("environment")}
                   | {name for name in (getattr(sli, "environment", "") for sli in sources.sli) if name})
    commits = sorted({r["git_commit"] for r in sources.runs if r.get("git_commit")})
    versions = sorted({r["suite_version"] for r in sources.runs if r.get("suite_version")})
    return {"names": names, "git_commits": commits, "suite_versions": versions}


def previous_run(sources: Sources, runs_root: Path) -> dict[str, Any] | None:
    """The last earlier run like this one (same job, same environment, with a slo.json) in the runs folder: what the
    summary's trend compares with. None for a period, or when there is none."""
    if sources.period or not runs_root.is_dir():
        return None
    mine = read_run_json(sources.output_dir)
    started = run_started(sources.output_dir)
    environment = (mine.get("environment") or {}).get("name")
    if not mine.get("job") or started is None:
        return None
    earlier = []
    for folder in runs_root.iterdir():
        info = read_run_json(folder) if folder.is_dir() and folder != sources.output_dir else {}
        when = run_started(folder) if info else None
        if (when is not None and when < started and info.get("job") == mine["job"]
                and (info.get("environment") or {}).get("name") == environment and (folder / SLO_FILE).is_file()):
            earlier.append((when, folder))
    if not earlier:
        return None
    when, folder = max(earlier)
    try:
        slo = json.loads((folder / SLO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"folder": folder.name, "started_at": when.isoformat(), "verdict": slo.get("verdict"),
            "objectives": [{k: o.get(k) for k in ("name", "kind", "verdict", "measured", "unit")}
                           for o in slo.get("objectives") or [] if isinstance(o, dict) and o.get("request") is None]}


def _period_end(sources: Sources) -> datetime | None:
    """A period's trend stops at its end; a run's shows every drill in the runs folder."""
    return datetime.fromisoformat(sources.period["end"]) if sources.period else None


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
