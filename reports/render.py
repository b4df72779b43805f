"""Write a report model as report.html (Jinja2, charts inlined), summary.md and report.json, each scrubbed of
secrets on its way out and written atomically (temporary file, then rename)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports import charts
from reports.bands import BAND_CSS
from reports.formats import budget_left, format_figure, format_value, ms, num, pct, signed_pct, whole_words
from reports.model import Report
from reports.summary import text
from rxcore.files import write_text_atomic
from rxcore.redact import Scrubber

HTML_FILE, MARKDOWN_FILE, JSON_FILE = "report.html", "summary.md", "report.json"
TEMPLATES = Path(__file__).parent / "templates"
SECTIONS = ("summary", "slo", "latency", "throughput", "budget", "requests", "journeys", "drill", "trend",
            "capacity", "baseline", "runs")
_MD_MAX_ROWS = 12
_MD_MAX_DRILLS = 5
_ANSWER_CSS = {"release": "pass", "do-not-release": "fail", "not-enough-evidence": "insufficient-data"}


def write_report(report: Report, output_dir: Path, scrubber: Scrubber) -> dict[str, Path]:
    """Write the three files into output_dir; returns them by name."""
    data = scrubber.tree(report.data)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        JSON_FILE: output_dir / JSON_FILE,
        MARKDOWN_FILE: output_dir / MARKDOWN_FILE,
        HTML_FILE: output_dir / HTML_FILE,
    }
    _write(paths[JSON_FILE], json.dumps(data, indent=1, allow_nan=False, default=str) + "\n", scrubber)
    _write(paths[MARKDOWN_FILE], markdown(data), scrubber)
    _write(paths[HTML_FILE], html(data, _charts(report, data)), scrubber)
    return paths


def _charts(report: Report, data: dict[str, Any]) -> dict[str, Any]:
    """Every chart the data allows, as data URIs; a section without data gets none (and says so)."""
    out: dict[str, Any] = {"drills": {}, "markers_elsewhere": False}
    markers = [m for s in (data["drill"] or {}).get("scenarios", []) for m in s["timeline"]]
    if report.load is not None:
        threshold = next((o["target"] for o in data["slo"]["objectives"]
                          if o["kind"] == "latency" and o["request"] is None and o["target"] is not None), None)
        out["latency"] = charts.latency(report.load, threshold, markers)
        shown = charts.covered(markers, report.load.start, report.load.end)
        out["markers_shown"], out["markers_elsewhere"] = bool(shown), len(shown) < len(markers)
        out["throughput"] = charts.throughput(report.load)
        if report.load.budget_remaining:
            out["budget"] = charts.burn_down(report.load)
    for view, shown in zip(report.drills, (data["drill"] or {}).get("scenarios", []), strict=False):
        key = shown["folder"] + "/" + str(shown["scenario"])
        entry: dict[str, str] = {}
        if view.journal.get("series"):
            entry["timeline"] = charts.drill_timeline(view.journal)
        if view.load_series is not None:
            entry["latency"] = charts.latency(view.load_series, None, shown["timeline"])
        out["drills"][key] = entry
    if report.trend:
        out["trend"] = charts.drill_trend(report.trend)
    if data["capacity"] and data["capacity"]["steps"]:
        out["capacity"] = charts.capacity(data["capacity"]["steps"])
    return out


def html(data: dict[str, Any], chart_uris: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(value=format_value, figure=format_figure, pct=pct, ms=ms, num=num,
                       band_css=lambda b: BAND_CSS.get(b, "na"), signed_pct=signed_pct, budget_left=budget_left,
                       whole=whole_words)
    by_name = {o["name"]: o for o in data["slo"]["objectives"]}
    return env.get_template("report.html.j2").render(r=data, charts=chart_uris, sections=SECTIONS,
                                                     answer_css=_ANSWER_CSS, objectives_by_name=by_name)


def markdown(data: dict[str, Any]) -> str:
    """summary.md: the answer and why, the findings, the SLO table, drill and baseline headlines; short enough for a
    PR comment."""
    summary = data["summary"]
    icon = {"release": "✅", "do-not-release": "❌"}.get(summary["answer"], "⚠️")
    lines = [f"### {icon} {data['title']}: {summary['answer_words']}", "", summary["why_text"], ""]
    if summary.get("held"):
        lines += [f"Did we hold the promises in {data['period']['label']}?", ""]
        lines += [f"- {text(parts)}" for parts in summary["held"]] + [""]
    lines += [f"- {finding['text']}" for finding in summary["findings"]] + [""]
    applicable = [o for o in data["slo"]["objectives"] if o["verdict"] != "not-applicable"]
    rows = [o for o in applicable if o["request"] is None or o["verdict"] == "fail"]
    shown = sorted(rows, key=lambda o: (o["verdict"] == "pass", o["name"]))[:_MD_MAX_ROWS]
    if shown:
        lines += ["| objective | measured | target | budget left | status |", "|---|---|---|---|---|"]
        for o in shown:
            lines.append(f"| {_md(o['label'])} | {format_value(o['measured'], o['unit'])} | {_md(o['objective'] or '')}"
                         f" | {budget_left(o['budget_remaining_share'])} | {o['band']} |")
        if len(rows) > len(shown):
            lines.append(f"| … {len(rows) - len(shown)} more objective(s) in report.html | | | | |")
        lines.append("")
    if "prometheus" in data["slo"]["source_kinds"]:
        for source in data["slo"]["sources"]:
            window = f", {source['window']}" if source["window"] else ""
            lines.append(f"Source: {source['type']} {_md(source['where'])}{window}: "
                         f"{', '.join(_md(name) for name in source['objectives'])}.")
        lines.append("")
    per_request = [o for o in applicable if o["request"] is not None]
    if per_request:
        counts: dict[str, int] = {}
        for o in per_request:
            counts[o["band"]] = counts.get(o["band"], 0) + 1
        lines.append(f"Per-request objectives ({len(per_request)}): "
                     + ", ".join(f"{n} {b.lower()}" for b, n in sorted(counts.items())) + ".")
    load = data["load"]
    if load:
        lines.append(f"Load: {load['requests']:,} requests in {load['duration_s']:.0f} s "
                     f"({load['mean_rps']:.1f} req/s), {load['errors']:,} errors.")
    journeys = data["journeys"]
    if journeys:
        lines.append(f"Journeys: {journeys['passed']} passed, {journeys['flaky']} flaky, {journeys['failed']} failed.")
    for suite in (data["drill"] or {}).get("suites", []):
        lines.append(f"Drill suite {suite['suite']}: {str(suite['verdict'] or suite['status']).upper()}, "
                     f"weighted score {num(suite['score'])}.")
    for s in (data["drill"] or {}).get("scenarios", [])[:_MD_MAX_DRILLS]:
        lines.append(f"Drill {s['scenario']}: {str(s['verdict'] or s['status']).upper()} score {num(s['score'])}, "
                     f"RTO {format_value(s['rto_s'], 's')}, RPO {format_value(s['rpo_s'], 's')} "
                     f"({num(s['rpo_count'])} acknowledged write(s) lost).")
    hidden = len((data["drill"] or {}).get("scenarios", [])) - _MD_MAX_DRILLS
    if hidden > 0:
        lines.append(f"… and {hidden} more drill scenario(s) in report.html.")
    baseline = data["baseline"]
    if baseline:
        regressions = baseline["regressions"]
        lines.append(f"Against baseline {_md(baseline['baseline'])}: "
                     + (f"{len(regressions)} regression(s) beyond noise." if regressions else
                        "no regression beyond noise."))
        for row in regressions[:5]:
            lines.append(f"- {_md(row['what'])}: {format_value(row['baseline'], row['unit'])} → "
                         f"{format_value(row['current'], row['unit'])} ({signed_pct(row['relative_change'])})")
    lines += ["", "Full report: `report.html` (charts, error budgets, drill timeline) · data: `report.json`", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def _write(path: Path, text: str, scrubber: Scrubber) -> None:
    write_text_atomic(path, scrubber.text(text))
