"""SLOs evaluated from Prometheus: the objectives with a `prometheus:` block, over a window of its history.

Counts are exact per step (slo.prometheus.counter_steps), then judged by the same functions as run folders
(Clopper-Pearson, sufficiency, error budget, burn rates, timeslices in slo.evaluate and slo.budget). A latency
objective over a histogram is a ratio: good = `_bucket{le=threshold}`, total = `_bucket{le="+Inf"}`, and the
percentile passes when at least its share of requests is good. When no bucket boundary equals the threshold the
verdict is decided only if both neighbouring boundaries agree, and the result says the buckets cannot resolve it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from rxcore import envvars
from slo.aggregate import StepData
from slo.budget import step_series
from slo.durations import format_duration
from slo.evaluate import Evaluation, ObjectiveResult, not_applicable, percent, ratio_verdict, result_name, slice_counts
from slo.promconfig import PromConfig
from slo.prometheus import PrometheusClient, PrometheusError, counter_steps, threshold_buckets
from slo.spec import Objective, Spec
from slo.windows import Window

__all__ = ["STEP_CHOICES", "evaluate_prometheus", "step_for"]

STEP_CHOICES = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
_STEPS_PER_QUERY_SET = 40_000  # at most 4 range queries of 11,000 points per selector (query budget: 20/objective)


def step_for(spec: Spec, window: Window) -> float:
    """The spec's series step, coarser for long windows (bounded queries), finer for windows shorter than it."""
    span = window.end - window.start
    wanted = max(spec.series_step_s, span / _STEPS_PER_QUERY_SET)
    step = next((s for s in STEP_CHOICES if s >= wanted), STEP_CHOICES[-1])
    while step > STEP_CHOICES[0] and step > span:
        step = max(s for s in STEP_CHOICES if s < step)
    return step


def evaluate_prometheus(spec: Spec, client: PrometheusClient, window: Window) -> Evaluation:
    """Every objective of `spec`: those with a `prometheus:` block from Prometheus, the others not applicable."""
    step = step_for(spec, window)
    steps_n = max(1, math.floor((window.end - window.start) / step + 1e-9))
    end = window.start + steps_n * step
    starts = window.start + step * np.arange(steps_n, dtype=np.float64)
    steps = StepData(step_s=step, step_start=starts, outcomes=np.zeros((steps_n, 0, 0), dtype=np.int64),
                     name_hist=np.zeros((0, 0), dtype=np.int64), q_total=np.zeros((0, steps_n), dtype=np.int64),
                     q_bad=np.zeros((0, steps_n), dtype=np.int64), q_value_us=np.zeros((0, steps_n)),
                     data_start=window.start, data_end=end)
    results = []
    clients: dict[str, PrometheusClient] = {}
    for obj in spec.objectives:
        prom = obj.prometheus
        if prom is None:
            results.append(not_applicable(obj, "no `prometheus:` block: this objective is measured from run folders"))
        elif prom.by:
            results.append(not_applicable(obj, f"split by {', '.join(prom.by)}: evaluated per label from run "
                                               "folders only; the alert rules cover it in Prometheus"))
        else:
            try:
                reader = _client_for(spec, prom, client, clients)
                before = reader.queries
                result = (_availability if obj.kind == "availability" else _latency)(spec, obj, prom, reader, steps)
            except PrometheusError as exc:
                raise PrometheusError(f"objective {obj.name}: {exc}") from None
            result.details["source"] = {"type": "prometheus", "url": reader.url, "queries": reader.queries - before,
                                        **({"datasource": prom.datasource} if prom.datasource else {})}
            results.append(result)
    notes = [f"from Prometheus at {client.url}, window {window.label}, step {format_duration(step)}"]
    if end < window.end - 1e-6:
        notes.append(f"evaluated to the last whole step, {end - window.end:+.0f} s from the window's end")
    return Evaluation(spec_name=spec.name, spec_path=str(spec.path) if spec.path else None, runs=[],
                      confidence=spec.confidence, rate_limited=spec.rate_limited, start=window.start, end=end,
                      objectives=results, notes=notes)


def _client_for(spec: Spec, prom: PromConfig, default: PrometheusClient,
                clients: dict[str, PrometheusClient]) -> PrometheusClient:
    """The environment's Prometheus, or the URL of the OpenSLO DataSource the objective names (headers by variable)."""
    source = (spec.extra.get("datasources") or {}).get(prom.datasource) if prom.datasource else None
    if not source or not source.get("url"):
        return default
    if prom.datasource not in clients:
        headers = {}
        for header, variable in (source.get("headers_env") or {}).items():
            value = envvars.getenv(variable)
            if not value:
                raise PrometheusError(f"DataSource {prom.datasource}: environment variable {variable!r} "
                                      f"({header}) is not set; export it")
            headers[header] = value
        clients[prom.datasource] = PrometheusClient(source["url"], headers)  # type: ignore[index]
    return clients[prom.datasource]  # type: ignore[index]


def _counts(client: PrometheusClient, selector: str, steps: StepData, required: bool) -> npt.NDArray[np.int64]:
    """Per-step events; a `required` selector (the total) matching no series at all is an error, a bad or good one
    is zero events (a labelled counter exists only once incremented)."""
    counts = counter_steps(client, selector, steps.data_start, steps.data_end, steps.step_s)
    if required and not counts.any() and not client.query(f"count({selector})", steps.data_end):
        raise PrometheusError(f"`{selector}` matches no series at {steps.data_end:.0f}: check the metric name and "
                              "labels (is Prometheus scraping the job?)")
    return counts


def _availability(spec: Spec, obj: Objective, prom: PromConfig, client: PrometheusClient,
                  steps: StepData) -> ObjectiveResult:
    assert prom.total is not None
    total = _counts(client, prom.total.promql(), steps, required=True)
    if prom.bad is not None:
        bad = _counts(client, prom.bad.promql(), steps, required=False)
    else:
        assert prom.good is not None
        bad = total - _counts(client, prom.good.promql(), steps, required=False)
    result = ObjectiveResult(name=result_name(obj, None), kind=obj.kind, verdict="insufficient-data",
                             objective=f">= {percent(obj.target)}", unit="ratio", series=step_series(steps, total, bad),
                             details={"total_selector": prom.total.promql(),
                                      "bad_selector": (prom.bad or prom.good).promql(),  # type: ignore[union-attr]
                                      "bad_is": "bad" if prom.bad is not None else "total - good"})
    if obj.budgeting == "timeslices":
        assert obj.slice_target is not None and obj.slice_s is not None
        result.objective = (f">= {percent(obj.target)} of {format_duration(obj.slice_s)} slices with "
                            f">= {percent(obj.slice_target)} good")
        good_slices, slices = slice_counts(spec, steps, obj, total, bad, 1.0 - obj.slice_target)
        return ratio_verdict(spec, result, obj.target, good_slices, slices, "slices", steps=None)
    return ratio_verdict(spec, result, obj.target, int(total.sum() - bad.sum()), int(total.sum()), "requests",
                         steps=(steps, total, bad))


def _latency(spec: Spec, obj: Objective, prom: PromConfig, client: PrometheusClient,
             steps: StepData) -> ObjectiveResult:
    assert prom.histogram is not None and obj.percentile is not None and obj.threshold is not None
    selector = prom.histogram.promql(prom.histogram.metric + "_bucket")
    labels = _le_labels(client, selector, steps)
    bounds = sorted(labels)
    below, above = threshold_buckets(bounds, obj.threshold)
    cache: dict[float, npt.NDArray[np.int64]] = {}

    def at(le: float) -> npt.NDArray[np.int64]:
        if le not in cache:
            matcher = prom.histogram.promql(prom.histogram.metric + "_bucket",  # type: ignore[union-attr]
                                            (("le", "=", labels[le]),))
            cache[le] = counter_steps(client, matcher, steps.data_start, steps.data_end, steps.step_s)
        return cache[le]

    total = at(math.inf)
    share = obj.percentile / 100.0
    op = "<" if obj.op == "lt" else "<="
    objective = f"p{obj.percentile:g} {op} {format_duration(obj.threshold)}"
    details: dict[str, Any] = {"histogram": selector, "bucket_bounds_s": bounds,
                               f"p{obj.percentile:g}_bounds_s": _percentile_bounds(bounds, total, share, at)}
    if below == above:
        good = at(below)  # type: ignore[arg-type]
        result = ObjectiveResult(name=result_name(obj, None), kind=obj.kind, verdict="insufficient-data",
                                 objective=objective, unit="ratio", series=step_series(steps, total, total - good),
                                 details=details)
        return ratio_verdict(spec, result, share, int(good.sum()), int(total.sum()), "requests",
                             steps=(steps, total, total - good))
    low = at(below) if below is not None else np.zeros_like(total)
    high = at(above) if above is not None else total
    details["unresolved"] = (f"no bucket boundary at {format_duration(obj.threshold)}: the histogram's neighbouring "
                             f"boundaries are {below} s and {above} s, so requests between them cannot be judged")
    optimistic = ObjectiveResult(name=obj.name, kind=obj.kind, verdict="", objective=objective)
    ratio_verdict(spec, optimistic, share, int(high.sum()), int(total.sum()), "requests", steps=None)
    result = ObjectiveResult(name=result_name(obj, None), kind=obj.kind, verdict="insufficient-data",
                             objective=objective, unit="ratio", series=step_series(steps, total, total - low),
                             details=details)
    ratio_verdict(spec, result, share, int(low.sum()), int(total.sum()), "requests", steps=(steps, total, total - low))
    details["good_share_bounds"] = [result.measured, optimistic.measured]
    if result.verdict != "pass" and optimistic.verdict != "fail":
        result.verdict = "insufficient-data"
        result.reason = details["unresolved"]
    return result


def _le_labels(client: PrometheusClient, selector: str, steps: StepData) -> dict[float, str]:
    """Each bucket boundary seen in the window and its `le` label exactly as the exporter wrote it (3 vs 3.0)."""
    span = max(1, math.ceil(steps.data_end - steps.data_start))
    labels = {}
    for series in client.query(f"count by (le) (last_over_time({selector}[{span}s]))", steps.data_end):
        text = series.get("metric", {}).get("le", "")
        try:
            labels[float(text)] = str(text)
        except ValueError:
            continue
    if not labels:
        raise PrometheusError(f"`{selector}` has no buckets in the window: check the histogram's name and labels "
                              "(is Prometheus scraping the job?)")
    return labels


def _percentile_bounds(bounds: list[float], total: npt.NDArray[np.int64], share: float,
                       at: Any) -> list[float] | None:
    """The boundaries between which the percentile lies: the lowest `le` whose bucket holds its share of the
    requests, and the boundary below it (a binary search, so a few queries whatever the bucket count)."""
    count = int(total.sum())
    if not count:
        return None
    low, high = 0, len(bounds) - 1  # bounds[-1] is +Inf, which holds every request
    while low < high:
        middle = (low + high) // 2
        if at(bounds[middle]).sum() >= share * count:
            high = middle
        else:
            low = middle + 1
    return [bounds[low - 1] if low else 0.0, bounds[low]]
