"""Time series and per-request figures for the charts and tables, computed by the SLO package's own aggregation
(`slo.aggregate.aggregate`, `slo.records.merge_by_name`, `slo.budget.error_budget`) at a step that suits a chart.

slo.json keeps one-minute steps (the SLO's series); a 30-second smoke run would be one point, so charts re-run the
same aggregation at a finer step. No SLI is computed here: only the slo package's functions are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slo.aggregate import LatencyQuery, aggregate
from slo.budget import error_budget
from slo.histogram import Histogram
from slo.records import OUTCOMES, load_table, merge_by_name, record_files
from slo.spec import Spec, outcome_sets

CHART_PERCENTILES = (50.0, 95.0, 99.0)
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
_TARGET_POINTS = 240
ERROR_OUTCOMES = ("http_5xx", "timeout", "connection_error")


@dataclass
class LoadSeries:
    step_s: float
    t: list[float]
    percentiles_s: dict[str, list[float | None]]  # "p50" -> per step
    requests_per_s: list[float]
    outcomes_per_s: dict[str, list[float]]  # outcome -> per step
    budget_remaining: dict[str, list[float | None]]  # objective name -> share of the run's budget left per step
    start: float
    end: float


def chart_step(span_s: float) -> float:
    """The smallest round step that keeps a chart to about _TARGET_POINTS points."""
    return float(next((s for s in _STEPS_S if span_s / s <= _TARGET_POINTS), _STEPS_S[-1]))


def load_series(load_dirs: list[Path], spec: Spec) -> LoadSeries | None:
    files = [f for d in load_dirs for f in record_files(d)]
    if not files:
        return None
    table = load_table(files)
    if not len(table):
        return None
    span = float((table.start + table.duration).max() - table.start.min())
    step = chart_step(span)
    all_names = tuple(range(len(table.names)))
    overall_latency = _overall(spec, "latency")
    threshold_s = overall_latency.threshold if overall_latency and overall_latency.threshold else 3.0
    queries = [LatencyQuery(all_names, p, threshold_s * 1e6, False) for p in CHART_PERCENTILES]
    if overall_latency is not None:  # its own query: the objective's percentile, threshold and operator
        queries.append(LatencyQuery(all_names, float(overall_latency.percentile or 95), threshold_s * 1e6,
                                    overall_latency.op == "lte"))
    steps = aggregate(table, step, queries)
    per_step = steps.outcomes.sum(axis=1)  # (steps, outcomes)
    rate = per_step / step
    series = LoadSeries(
        step_s=step,
        t=steps.step_start.tolist(),
        percentiles_s={f"p{p:g}": [None if np.isnan(v) else v / 1e6 for v in steps.q_value_us[i]]
                       for i, p in enumerate(CHART_PERCENTILES)},
        requests_per_s=rate.sum(axis=1).tolist(),
        outcomes_per_s={o: rate[:, i].tolist() for i, o in enumerate(OUTCOMES)},
        budget_remaining={},
        start=steps.data_start,
        end=steps.data_end,
    )
    availability = _overall(spec, "availability")
    if availability is not None:
        good, valid = outcome_sets(spec.rate_limited)
        valid_n = per_step[:, [OUTCOMES.index(o) for o in valid]].sum(axis=1)
        bad_n = valid_n - per_step[:, [OUTCOMES.index(o) for o in good if o in valid]].sum(axis=1)
        series.budget_remaining[availability.name] = _burn_down(availability.target, valid_n, bad_n)
    if overall_latency is not None:
        qi = len(CHART_PERCENTILES)
        series.budget_remaining[overall_latency.name] = _burn_down(
            (overall_latency.percentile or 95) / 100.0, steps.q_total[qi], steps.q_bad[qi])
    return series


def _burn_down(target: float, valid: Any, bad: Any) -> list[float | None]:
    """Share of the whole run's error budget left after each step (the classic burn-down)."""
    total = int(np.asarray(valid).sum())
    out: list[float | None] = []
    for consumed in np.cumsum(np.asarray(bad)):
        budget = error_budget(target, total, int(consumed))
        out.append(None if not budget["allowed"] else budget["remaining"] / budget["allowed"])
    return out


def _overall(spec: Spec, kind: str) -> Any:
    """The spec's first objective of this kind over every request (the headline one)."""
    return next((o for o in spec.objectives if o.kind == kind and o.requests is None and not o.per_request
                 and o.budgeting == "occurrences"), None)


def merged_by_name(load_dirs: list[Path]) -> dict[str, tuple[dict[str, int], Histogram]]:
    """Outcome counts and histogram per request name, over every load folder."""
    merged: dict[str, tuple[dict[str, int], Histogram]] = {}
    for folder in load_dirs:
        for name, (outcomes, hist) in merge_by_name(folder).items():
            if name in merged:
                counts, total = merged[name]
                total.add(hist)
                for key, value in outcomes.items():
                    counts[key] = counts.get(key, 0) + value
            else:
                merged[name] = (dict(outcomes), hist)
    return merged


def overall(merged: dict[str, tuple[dict[str, int], Histogram]]) -> tuple[dict[str, int], Histogram]:
    """Every request name together."""
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    total = Histogram()
    for outcomes, hist in merged.values():
        total.add(hist)
        for key, value in outcomes.items():
            counts[key] = counts.get(key, 0) + value
    return counts, total


def by_request(load_dirs: list[Path]) -> list[dict[str, Any]]:
    """Per request name over every load folder: outcome counts and p50/p95/p99/max of the ok requests."""
    rows = []
    for name, (outcomes, hist) in sorted(merged_by_name(load_dirs).items(), key=lambda item: -sum(item[1][0].values())):
        requests = sum(outcomes.values())
        errors = sum(outcomes.get(o, 0) for o in ERROR_OUTCOMES)
        rows.append({
            "name": name, "requests": requests, "ok": outcomes.get("ok", 0), "errors": errors,
            "rate_limited": outcomes.get("http_429", 0), "test_errors_4xx": outcomes.get("http_4xx", 0),
            "error_share": errors / requests if requests else None,
            **{f"p{p:g}_s": _s(hist.value_at_percentile(p)) for p in CHART_PERCENTILES},
            "max_s": _s(hist.max),
        })
    return rows


def _s(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1e6
