"""Baseline comparison: what got worse since the baseline run, by how much, and whether beyond noise.

The tests (stated in every report, docs/reports.md):
- Latency percentiles (overall p50/p95/p99, p95 per request name): each run's distribution-free order-statistic
  bounds (slo.stats.order_statistic_ranks on the merged histograms), one-sided at 97.5 %. A regression is beyond
  noise when the current lower bound is above the baseline's upper bound: if the true percentiles were equal, one
  of the two bounds would have to be wrong, which happens with probability at most 2 x 2.5 % = 5 %.
- Error ratios (bad / valid requests, bad = 5xx, timeout, connection error): Fisher's exact test, one-sided
  (current worse), 5 % significance. Exact at any sample size.
- Journey step durations (raw samples): Mann-Whitney U, one-sided (current slower), 5 % significance.
- Drill figures (RTO, RPO, score): measurements, shown as differences without a test.
A change beyond noise but smaller than MIN_RELATIVE_CHANGE is reported as "within tolerance".
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from scipy import stats as _st

from reports.labels import request_labels
from reports.series import merged_by_name, overall
from reports.sources import Sources
from slo.histogram import Histogram
from slo.records import OUTCOMES
from slo.spec import Spec, outcome_sets
from slo.stats import order_statistic_ranks

BOUND_CONFIDENCE = 0.975
ALPHA = 0.05
MIN_RELATIVE_CHANGE = 0.05
REGRESSED, IMPROVED, NO_CHANGE, TOLERANCE, UNKNOWN = (
    "regressed", "improved", "no significant change", "within tolerance", "insufficient data")
METHODS = {
    "latency": "order-statistic bounds of each run (one-sided 97.5 %, from the histograms); beyond noise when "
               "the intervals do not overlap (false alarm <= 5 %)",
    "errors": "Fisher's exact test on bad/valid requests, one-sided, 5 % significance",
    "journeys": "Mann-Whitney U on step durations, one-sided, 5 % significance",
    "drill": "measured figures: difference only, no test",
}


def compare(current: Sources, baseline: Sources, spec: Spec, journeys_now: list[dict[str, Any]],
            journeys_before: list[dict[str, Any]], drills_now: list[dict[str, Any]],
            drills_before: list[dict[str, Any]]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    if current.load_dirs and baseline.load_dirs:
        now, before = merged_by_name(current.load_dirs), merged_by_name(baseline.load_dirs)
        (now_counts, now_hist), (before_counts, before_hist) = overall(now), overall(before)
        for p in (50.0, 95.0, 99.0):
            rows.append(_percentile(f"p{p:g} latency, all requests", p, now_hist, before_hist))
        rows.append(_errors("error ratio, all requests", spec, now_counts, before_counts))
        labels = request_labels(sorted(set(now) | set(before)))
        for name in sorted(set(now) & set(before)):
            rows.append(_percentile(f"p95 latency, {name}", 95.0, now[name][1], before[name][1])
                        | {"label": f"p95 latency, {labels[name]}"})
            rows.append(_errors(f"error ratio, {name}", spec, now[name][0], before[name][0])
                        | {"label": f"error ratio, {labels[name]}"})
    rows.extend(_journeys(journeys_now, journeys_before))
    rows.extend(_drills(drills_now, drills_before))
    rows = [{"label": row["what"], **row} for row in rows]  # a short label for the table; "what" stays whole
    return {
        "baseline": baseline.label,
        "baseline_runs": [r["folder"] for r in baseline.runs],
        "methods": METHODS,
        "min_relative_change": MIN_RELATIVE_CHANGE,
        "rows": rows,
        "regressions": [r for r in rows if r["result"] == REGRESSED],
    }


def _percentile(what: str, p: float, now: Histogram, before: Histogram) -> dict[str, Any]:
    now_v, before_v = now.value_at_percentile(p), before.value_at_percentile(p)
    now_lo, now_hi = _bounds(now, p)
    before_lo, before_hi = _bounds(before, p)
    result = UNKNOWN
    if now_lo is not None and before_hi is not None and now_lo > before_hi:
        result = REGRESSED
    elif now_hi is not None and before_lo is not None and now_hi < before_lo:
        result = IMPROVED
    elif None not in (now_lo, now_hi, before_lo, before_hi):
        result = NO_CHANGE
    row = _row(what, "latency", "s", _s(now_v), _s(before_v), result, higher_is_worse=True)
    row["current_bounds"] = [_s(now_lo), _s(now_hi)]
    row["baseline_bounds"] = [_s(before_lo), _s(before_hi)]
    return row


def _bounds(hist: Histogram, p: float) -> tuple[int | None, int | None]:
    lower_rank, upper_rank = order_statistic_ranks(hist.count, p, BOUND_CONFIDENCE)
    lower = hist.value_at_rank(lower_rank, lowest=True) if lower_rank else None
    upper = hist.value_at_rank(upper_rank) if upper_rank else None
    return lower, upper


def _errors(what: str, spec: Spec, now: dict[str, int], before: dict[str, int]) -> dict[str, Any]:
    good_set, valid_set = outcome_sets(spec.rate_limited)

    def split(counts: dict[str, int]) -> tuple[int, int]:
        valid = sum(counts.get(o, 0) for o in valid_set if o in OUTCOMES)
        return valid - sum(counts.get(o, 0) for o in good_set if o in valid_set), valid

    now_bad, now_valid = split(now)
    before_bad, before_valid = split(before)
    if not now_valid or not before_valid:
        return _row(what, "errors", "ratio", None, None, UNKNOWN, higher_is_worse=True)
    now_ratio, before_ratio = now_bad / now_valid, before_bad / before_valid
    table = [[now_bad, now_valid - now_bad], [before_bad, before_valid - before_bad]]
    p_worse = float(_st.fisher_exact(table, alternative="greater").pvalue)
    p_better = float(_st.fisher_exact(table, alternative="less").pvalue)
    result = REGRESSED if p_worse < ALPHA else IMPROVED if p_better < ALPHA else NO_CHANGE
    row = _row(what, "errors", "ratio", now_ratio, before_ratio, result, higher_is_worse=True,
               tolerance_applies=False)
    row["p_value"] = p_worse
    row["counts"] = {"current": [now_bad, now_valid], "baseline": [before_bad, before_valid]}
    return row


def _journeys(now: list[dict[str, Any]], before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def durations(steps: list[dict[str, Any]]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for step in steps:
            if isinstance(step.get("duration_s"), int | float):
                out[f"{step.get('journey')}: {step.get('step')}"].append(float(step["duration_s"]))
        return out

    a, b = durations(now), durations(before)
    rows = []
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        median_now, median_before = sorted(x)[len(x) // 2], sorted(y)[len(y) // 2]
        if len(x) < 2 or len(y) < 2:
            rows.append(_row(f"journey step {key}", "journeys", "s", median_now, median_before, UNKNOWN, True))
            continue
        p_worse = float(_st.mannwhitneyu(x, y, alternative="greater").pvalue)
        p_better = float(_st.mannwhitneyu(x, y, alternative="less").pvalue)
        result = REGRESSED if p_worse < ALPHA else IMPROVED if p_better < ALPHA else NO_CHANGE
        row = _row(f"journey step {key} (median)", "journeys", "s", median_now, median_before, result, True)
        row["p_value"] = p_worse
        rows.append(row)
    return rows


def _drills(now: list[dict[str, Any]], before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last_before = {d["scenario"]: d for d in before}
    rows = []
    for drill in now:
        old = last_before.get(drill["scenario"])
        if old is None:
            continue
        for key, unit, worse_up in (("rto_s", "s", True), ("rpo_s", "s", True), ("score", "points", False)):
            a, b = drill.get(key), old.get(key)
            result = UNKNOWN if a is None or b is None else (
                NO_CHANGE if a == b else REGRESSED if (a > b) == worse_up else IMPROVED)
            rows.append(_row(f"drill {drill['scenario']}: {key}", "drill", unit, a, b, result, worse_up,
                             tolerance_applies=False))
    return rows


def _row(what: str, kind: str, unit: str, now: float | None, before: float | None, result: str,
         higher_is_worse: bool, tolerance_applies: bool = True) -> dict[str, Any]:
    change = None if now is None or before is None else now - before
    relative = None if change is None or not before else change / before
    if tolerance_applies and result in (REGRESSED, IMPROVED) and relative is not None \
            and abs(relative) < MIN_RELATIVE_CHANGE:
        result = TOLERANCE
    return {"what": what, "kind": kind, "unit": unit, "current": now, "baseline": before, "change": change,
            "relative_change": None if relative is None or not math.isfinite(relative) else relative,
            "higher_is_worse": higher_is_worse, "result": result, "method": METHODS[kind]}


def _s(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1e6
