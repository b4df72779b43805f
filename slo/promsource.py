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
from slo.evaluate import Evaluation, ObjectiveResult, budgeted_verdict, not_applicable, percent, result_name
from slo.promconfig import PromConfig
from slo.prometheus import PrometheusClient, PrometheusError, counter_steps_by, threshold_buckets
from slo.spec import Objective, Spec
from slo.windows import Window

__all__ = ["STEP_CHOICES", "evaluate_prometheus", "slice_step", "step_for"]

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


def slice_step(step: float, slice_s: float | None) -> float:
    """The step an objective reads at: the spec's, or the largest step choice below it that divides its timeslices
    (counts are exact at any step, so slices are summed from whole steps, never split)."""
    if slice_s is None or slice_s % step == 0:
        return step
    return max(s for s in STEP_CHOICES if s <= step and slice_s % s == 0)


def _steps(window: Window, step: float) -> StepData:
    steps_n = max(1, math.floor((window.end - window.start) / step + 1e-9))
    return StepData(step_s=step, step_start=window.start + step * np.arange(steps_n, dtype=np.float64),
                    outcomes=np.zeros((steps_n, 0, 0), dtype=np.int64), name_hist=np.zeros((0, 0), dtype=np.int64),
                    q_total=np.zeros((0, steps_n), dtype=np.int64), q_bad=np.zeros((0, steps_n), dtype=np.int64),
                    q_value_us=np.zeros((0, steps_n)), data_start=window.start,
                    data_end=window.start + steps_n * step)


def evaluate_prometheus(spec: Spec, client: PrometheusClient, window: Window) -> Evaluation:
    """Every objective of `spec`: those with a `prometheus:` block from Prometheus, the others not applicable.
    An objective split `by:` labels gives one result per label value (`name[value]`), like `per_request` does
    for run folders."""
    step = step_for(spec, window)
    base = _steps(window, step)
    steps_of: dict[float, StepData] = {step: base}
    results: list[ObjectiveResult] = []
    clients: dict[str, PrometheusClient] = {}
    for obj in spec.objectives:
        prom = obj.prometheus
        if prom is None:
            results.append(not_applicable(obj, "no `prometheus:` block: this objective is measured from run folders"))
            continue
        own_step = slice_step(step, obj.slice_s)
        steps = steps_of.setdefault(own_step, _steps(window, own_step))
        try:
            reader = _client_for(spec, prom, client, clients)
            before = reader.queries
            found = (_availability if obj.kind == "availability" else _latency)(spec, obj, prom, reader, steps)
        except PrometheusError as exc:
            raise PrometheusError(f"objective {obj.name}: {exc}") from None
        for result in found:
            result.details["source"] = {"type": "prometheus", "url": reader.url, "queries": reader.queries - before,
                                        "window": window.label, "step_s": own_step,
                                        **({"datasource": prom.datasource} if prom.datasource else {})}
        results.extend(found)
    notes = [f"from Prometheus at {client.url}, window {window.label}, step {format_duration(step)}"]
    if base.data_end < window.end - 1e-6:
        notes.append(f"evaluated to the last whole step, {base.data_end - window.end:+.0f} s from the window's end")
    return Evaluation(spec_name=spec.name, spec_path=str(spec.path) if spec.path else None, runs=[],
                      confidence=spec.confidence, rate_limited=spec.rate_limited, start=window.start,
                      end=base.data_end, objectives=results, notes=notes, headline=spec.headline_names)


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


def _counts(client: PrometheusClient, selector: str, steps: StepData, by: tuple[str, ...],
            required: bool) -> dict[tuple[str, ...], npt.NDArray[np.int64]]:
    """Per-step events per value of the `by` labels; a `required` selector (the total) matching no series at all is
    an error, a bad or good one is zero events (a labelled counter exists only once incremented)."""
    counts = counter_steps_by(client, selector, steps.data_start, steps.data_end, steps.step_s, by)
    if required and not any(c.any() for c in counts.values()) and not client.query(f"count({selector})",
                                                                                    steps.data_end):
        raise PrometheusError(f"`{selector}` matches no series at {steps.data_end:.0f}: check the metric name and "
                              "labels (is Prometheus scraping the job?)")
    return counts


def _request(obj: Objective, key: tuple[str, ...]) -> str | None:
    """The result's `request` of one label group: the value (one label), or label=value pairs; None unsplit."""
    prom = obj.prometheus
    if prom is None or not prom.by:
        return None
    return key[0] if len(key) == 1 else ",".join(f"{label}={value}" for label, value in zip(prom.by, key, strict=True))


def _availability(spec: Spec, obj: Objective, prom: PromConfig, client: PrometheusClient,
                  steps: StepData) -> list[ObjectiveResult]:
    assert prom.total is not None
    zero = np.zeros(steps.step_start.size, dtype=np.int64)
    totals = _counts(client, prom.total.promql(), steps, prom.by, required=True)
    side = prom.bad if prom.bad is not None else prom.good
    assert side is not None
    others = _counts(client, side.promql(), steps, prom.by, required=False)
    results = []
    for key in sorted(totals) if prom.by else [()]:
        total = totals.get(key, zero)
        bad = others.get(key, zero) if prom.bad is not None else total - others.get(key, zero)
        request = _request(obj, key)
        result = ObjectiveResult(name=result_name(obj, request), kind=obj.kind, verdict="insufficient-data",
                                 objective=f">= {percent(obj.target)}", unit="ratio", request=request,
                                 series=step_series(steps, total, bad),
                                 details={"total_selector": prom.total.promql(), "bad_selector": side.promql(),
                                          "bad_is": "bad" if prom.bad is not None else "total - good",
                                          **({"by": dict(zip(prom.by, key, strict=True))} if prom.by else {})})
        results.append(budgeted_verdict(spec, obj, result, steps, total, bad))
    return results


def _latency(spec: Spec, obj: Objective, prom: PromConfig, client: PrometheusClient,
             steps: StepData) -> list[ObjectiveResult]:
    assert prom.histogram is not None and obj.percentile is not None and obj.threshold is not None
    selector = prom.histogram.promql(prom.histogram.metric + "_bucket")
    labels = _le_labels(client, selector, steps)
    bounds = sorted(labels)
    below, above = threshold_buckets(bounds, obj.threshold)
    cache: dict[float, dict[tuple[str, ...], npt.NDArray[np.int64]]] = {}
    zero = np.zeros(steps.step_start.size, dtype=np.int64)

    def at(le: float) -> dict[tuple[str, ...], npt.NDArray[np.int64]]:
        if le not in cache:
            matcher = prom.histogram.promql(prom.histogram.metric + "_bucket",  # type: ignore[union-attr]
                                            (("le", "=", labels[le]),))
            cache[le] = counter_steps_by(client, matcher, steps.data_start, steps.data_end, steps.step_s, prom.by)
        return cache[le]

    share = obj.percentile / 100.0
    op = "<" if obj.op == "lt" else "<="
    objective = f"p{obj.percentile:g} {op} {format_duration(obj.threshold)}"
    results = []
    for key in sorted(at(math.inf)) if prom.by else [()]:
        total = at(math.inf).get(key, zero)
        request = _request(obj, key)

        def count(le: float, key: tuple[str, ...] = key) -> npt.NDArray[np.int64]:
            return at(le).get(key, zero)

        details: dict[str, Any] = {"histogram": selector, "bucket_bounds_s": bounds,
                                   f"p{obj.percentile:g}_bounds_s": _percentile_bounds(bounds, total, share, count),
                                   **({"by": dict(zip(prom.by, key, strict=True))} if prom.by else {})}

        def judged(good: npt.NDArray[np.int64], details: dict[str, Any] = details,
                   request: str | None = request, total: npt.NDArray[np.int64] = total) -> ObjectiveResult:
            result = ObjectiveResult(name=result_name(obj, request), kind=obj.kind, verdict="insufficient-data",
                                     objective=objective, unit="ratio", request=request, details=details,
                                     series=step_series(steps, total, total - good))
            return budgeted_verdict(spec, obj, result, steps, total, total - good)

        if below == above:
            results.append(judged(count(below)))  # type: ignore[arg-type]
            continue
        details["unresolved"] = (f"no bucket boundary at {format_duration(obj.threshold)}: the histogram's "
                                 f"neighbouring boundaries are {below} s and {above} s, so requests between them "
                                 "cannot be judged")
        optimistic = judged(count(above) if above is not None else total, details={})
        result = judged(count(below) if below is not None else zero)
        details["good_share_bounds"] = [result.measured, optimistic.measured]
        if result.verdict != "pass" and optimistic.verdict != "fail":
            result.verdict = "insufficient-data"
            result.reason = details["unresolved"]
        results.append(result)
    return results


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
