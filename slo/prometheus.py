"""Prometheus as an SLI source: event counts per time step, read through the HTTP API.

The statistics do not change with the source, so this module only turns counters into the per-step counts the
evaluator already judges. Counts are exact to the scrapes, not extrapolated: for each step boundary the query
range API gives every series' last sample at or before it (Prometheus's lookback), and the count of a step is the
difference between consecutive boundaries, series by series. A counter that went down was reset (the process
restarted): that step alone is read from its raw samples, the rise before the reset plus the count after it.
`increase()` would instead extrapolate each step's first and last samples to the step's edges and drop the
increase between two samples that straddle an edge, so its step counts are neither whole numbers nor add up to the
window's total; see docs/monitoring.md.

What stays approximate is what no source can know: events between the last scrape and the window's end are
counted in the next window, and a series that first appears holding a value counts that value as events of the
step in which it appears (a labelled counter created by its first increment).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

__all__ = ["PrometheusClient", "PrometheusError", "bucket_bounds", "counter_steps", "counter_steps_by",
           "threshold_buckets"]

# A metric name and optional label matchers; a quoted value may hold braces (route="/rest/v1/{table}").
_SELECTOR = re.compile(r'^\s*[A-Za-z_:][A-Za-z0-9_:]*\s*(\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})?\s*$')
_MAX_POINTS = 11_000  # Prometheus refuses query_range over 11,000 points per series


class PrometheusError(ValueError):
    """A query that could not be answered: names the query and what Prometheus (or the network) said."""


@dataclass
class PrometheusClient:
    """A read-only client of one Prometheus server's HTTP API (`/api/v1/query`, `/api/v1/query_range`).

    `queries` counts what this client sent, so callers and benchmarks can hold the query budget to account."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 30.0
    queries: int = 0
    _http: httpx.Client | None = field(default=None, init=False, repr=False, compare=False)

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """An instant query's result list (vector or matrix); raises PrometheusError naming the query."""
        return self._get("/api/v1/query", {"query": expr, "time": _stamp(at)}, expr)

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query_range",
                         {"query": expr, "start": _stamp(start), "end": _stamp(end), "step": _stamp(step)}, expr)

    def _get(self, path: str, params: dict[str, str], expr: str) -> list[dict[str, Any]]:
        self.queries += 1
        if self._http is None:  # one connection pool per client: a new one per query reloads the CA store (0.1 s)
            self._http = httpx.Client(headers=dict(self.headers), timeout=self.timeout_s)
        try:
            response = self._http.get(self.url.rstrip("/") + path, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusError(f"Prometheus at {self.url} did not answer `{expr}`: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"Prometheus at {self.url} answered `{expr}` with HTTP {response.status_code} "
                                  "and no JSON (is the URL a Prometheus server?)") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused `{expr}`: {body.get('errorType', 'error')}: "
                                  f"{body.get('error', response.text[:200])}")
        result = body.get("data", {}).get("result", [])
        return result if isinstance(result, list) else []


def counter_steps(client: PrometheusClient, selector: str, start: float, end: float,
                  step: float) -> npt.NDArray[np.int64]:
    """Events of the counters matched by `selector` in each step: step i holds the increments scraped in
    `(start + i*step, start + (i+1)*step]`.

    `selector` must be a series selector (`name{label="v"}`), since only raw counters can be differenced
    exactly; the answer has `ceil((end - start) / step)` steps and sums to the window's total.
    """
    grouped = counter_steps_by(client, selector, start, end, step, ())
    return grouped.get((), np.zeros(_step_count(start, end, step), dtype=np.int64))


def counter_steps_by(client: PrometheusClient, selector: str, start: float, end: float, step: float,
                     by: Sequence[str]) -> dict[tuple[str, ...], npt.NDArray[np.int64]]:
    """counter_steps per value of the `by` labels (a series without one counts under ""): the series of each
    group are differenced one by one, then added, so a `by: [route]` objective gets every route's exact counts
    from the same queries as the whole."""
    if not _SELECTOR.match(selector):
        raise PrometheusError(f"`{selector}` is not a series selector: a counter query must name the counter "
                              "and labels only, e.g. http_requests_total{job=\"app\",code=~\"5..\"}")
    if not (math.isfinite(start) and math.isfinite(end) and end > start and step > 0):
        raise PrometheusError(f"`{selector}`: the window must have an end after its start and a positive step")
    start, end, step = round(start, 3), round(end, 3), round(step, 3)  # the API answers at whole milliseconds
    steps = _step_count(start, end, step)
    totals: dict[tuple[str, ...], npt.NDArray[np.float64]] = {}
    last: dict[tuple[tuple[str, str], ...], float] = {}  # each series' value at the end of the previous chunk
    boundaries = start + step * np.arange(steps + 1, dtype=np.float64)
    for chunk in range(0, steps + 1, _MAX_POINTS - 1):
        edge = boundaries[chunk: chunk + _MAX_POINTS]
        for series in client.query_range(selector, float(edge[0]), float(edge[-1]), step):
            labels = series.get("metric", {})
            identity = tuple(sorted(labels.items()))
            values = _series_values(series, edge, last.get(identity, 0.0))
            last[identity] = float(values[-1])
            increments = np.diff(values)
            for i in np.flatnonzero(increments < 0):
                increments[i] = _across_reset(client, labels, float(edge[i]), float(edge[i + 1]), float(values[i]))
            key = tuple(str(labels.get(name, "")) for name in by)
            group = totals.setdefault(key, np.zeros(steps, dtype=np.float64))
            group[chunk: chunk + increments.size] += increments
    return {key: np.rint(group).astype(np.int64) for key, group in totals.items()}


def _step_count(start: float, end: float, step: float) -> int:
    return math.ceil((round(end, 3) - round(start, 3)) / round(step, 3) - 1e-9)


def _across_reset(client: PrometheusClient, labels: Mapping[str, str], after: float, until: float,
                  before: float) -> float:
    """A step in which the counter was reset, counted from its raw samples: the rise up to the reset, then the
    new count from zero (the boundary values alone would lose the rise before the reset)."""
    matchers = ",".join(f'{name}="{_escape(value)}"' for name, value in sorted(labels.items()))
    width = max(1, math.ceil(until - after))
    samples = client.query(f"{{{matchers}}}[{width}s]", until)
    events, previous = 0.0, before
    for series in samples:
        for stamp, raw in series.get("values") or []:
            if float(stamp) <= after:
                continue
            value = float(raw)
            events += value - previous if value >= previous else value
            previous = value
    return events


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def bucket_bounds(client: PrometheusClient, bucket_selector: str, at: float) -> list[float]:
    """The `le` boundaries (seconds) of a histogram's buckets, sorted, `+Inf` included."""
    result = client.query(f"count by (le) ({bucket_selector})", at)
    bounds = sorted({float(s.get("metric", {}).get("le", "nan")) for s in result})
    return [b for b in bounds if not math.isnan(b)]


def _series_values(series: dict[str, Any], boundaries: npt.NDArray[np.float64],
                   before: float = 0.0) -> npt.NDArray[np.float64]:
    """The series' value at each boundary; `before` until it first appears in these boundaries: its value at the
    end of the previous chunk (a series stale across a chunk's start does not count its whole value again), or 0
    for a series not seen yet (it counts from zero when it appears)."""
    values = np.full(boundaries.size, before, dtype=np.float64)
    points = series.get("values") or []
    if not points:
        return values
    stamps = np.array([float(p[0]) for p in points])
    samples = np.array([float(p[1]) for p in points])
    spacing = boundaries[1] - boundaries[0] if boundaries.size > 1 else 1.0
    index = np.searchsorted(boundaries, stamps - spacing / 2)  # the nearest boundary, whatever the float rounding
    exact = (index < boundaries.size) & np.isclose(boundaries[np.minimum(index, boundaries.size - 1)], stamps,
                                                   rtol=0, atol=2e-3)
    values[index[exact]] = samples[exact]
    missing = np.ones(boundaries.size, dtype=bool)
    missing[index[exact]] = False
    present = np.flatnonzero(~missing)
    if present.size:  # a gap (stale series) holds its last value, so a later sample differences from it
        filled = np.maximum.accumulate(np.where(missing, 0, np.arange(boundaries.size)))
        values = np.where(np.arange(boundaries.size) >= present[0], values[filled], before)
    return values


def _stamp(value: float) -> str:
    return f"{value:.3f}"


def threshold_buckets(bounds: Sequence[float], threshold_s: float) -> tuple[float | None, float | None]:
    """The bucket boundaries at or below and at or above a threshold: equal when a boundary resolves it."""
    below = max((b for b in bounds if b <= threshold_s), default=None)
    above = min((b for b in bounds if b >= threshold_s), default=None)
    return below, above
