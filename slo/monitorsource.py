"""SLIs from the synthetic monitor's record (slo.monitorstore): one more source beside run folders and Prometheus.

Availability is good checks / checks; latency objectives read the histogram of the good checks' durations with the
project's percentile (nearest rank) and the run folders' statistics (Clopper-Pearson, order-statistic bounds,
budgets, burn rates, timeslices in slo.evaluate and slo.budget). A check's name stands where a run folder has a
request name, so `requests:` patterns and `per_request` select checks.

Counts are exact over the window whatever its length: whole hours (whole days for windows of more than about
200 days) come from the roll-ups, the rest (window edges, hours a maintenance window cuts, days not closed yet)
from the raw lines. Checks that started inside a maintenance window of the environment file are left out of the
SLI and counted apart; recorded gaps and the time before the first and after the last check are shown as not
observed, never as available.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from rxcore.environment import load_environment
from rxcore.envschema import Monitor
from rxcore.errors import ConfigError, RxError
from rxcore.jobs import DEFAULT_RUNS_DIR
from slo.aggregate import StepData, first_bad_bucket
from slo.budget import step_series
from slo.durations import format_duration
from slo.evaluate import (
    Evaluation,
    ObjectiveResult,
    budgeted_verdict,
    histogram_latency_verdict,
    not_applicable,
    percent,
    ratio_verdict,
    result_name,
    select_names,
)
from slo.histogram import BUCKET_COUNT, Histogram, bucket_highest, bucket_index, decode_keys
from slo.monitorstore import (
    DAY_S,
    STORE_FILE,
    CheckTable,
    MonitorStoreError,
    day_name,
    read_checks,
    read_gaps,
    rolled_up,
    store_folder,
)
from slo.percentile import nearest_ranks
from slo.spec import Objective, Spec
from slo.windows import Window

__all__ = ["STEP_CHOICES", "Maintenance", "MonitorCounts", "MonitorSource", "evaluate_monitor", "maintenance_of",
           "monitor_counts", "monitor_source", "step_for"]

STEP_CHOICES = (60.0, 3600.0, float(DAY_S))  # raw binned by minute, the hourly and the daily roll-ups
_MAX_STEPS = 5000  # a quarter reads hourly roll-ups (2,160 steps); a year daily ones
_HOUR = 3600.0
_BLOCK_CELLS = 2_000_000  # dense (step, bucket) cells per block of per-step percentiles: ~16 MB
_DECODE_LINES = 10_000  # roll-up lines decoded at once


@dataclass(frozen=True)
class Maintenance:
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class MonitorSource:
    folder: Path
    window: Window
    maintenance: tuple[Maintenance, ...] = ()


@dataclass
class MonitorCounts:
    """Per-step, per-check counts over a window, maintenance left out: what the objectives are judged on."""

    names: list[str]
    step_s: float
    step_start: npt.NDArray[np.float64]      # (steps,) only steps holding checks
    total: npt.NDArray[np.int64]             # (steps, checks) checks outside maintenance
    good: npt.NDArray[np.int64]              # (steps, checks)
    lat_step: npt.NDArray[np.int32]          # good checks' latencies as (step, check, bucket, count) entries,
    lat_check: npt.NDArray[np.int32]         # sorted by (check, step, bucket), one entry per distinct triple
    lat_bucket: npt.NDArray[np.int32]
    lat_count: npt.NDArray[np.int32]
    lat_bounds: npt.NDArray[np.int64]        # (checks + 1,) where each check's entries start
    check_hist: npt.NDArray[np.int64]        # (checks, buckets) each check's whole-window histogram
    lat_min: npt.NDArray[np.int64]           # (checks,) µs, exact; -1 when none
    lat_max: npt.NDArray[np.int64]
    excluded: npt.NDArray[np.int64]          # (checks,) checks inside maintenance windows
    maintenance: list[dict[str, Any]]        # each window in the evaluation window, with its excluded checks
    gaps: list[dict[str, Any]]               # recorded gaps within the window
    first_check: float | None
    last_check: float | None
    read: dict[str, int] = field(default_factory=dict)  # lines read per level: 1d, 1h, raw

    def latencies(self, ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[Any], ...]:
        """(step, bucket, count) entries of the checks `ids` (each check's in (step, bucket) order)."""
        if ids.size == len(self.names):
            return self.lat_step, self.lat_bucket, self.lat_count
        spans = [(int(self.lat_bounds[i]), int(self.lat_bounds[i + 1])) for i in ids.tolist()]
        return tuple(np.concatenate([column[a:b] for a, b in spans]) if spans else column[:0]
                     for column in (self.lat_step, self.lat_bucket, self.lat_count))


def step_for(spec: Spec, window: Window) -> float:
    """The finest step the record holds that keeps the window under _MAX_STEPS steps (and not finer than the spec)."""
    wanted = max(spec.series_step_s, (window.end - window.start) / _MAX_STEPS)
    return next((s for s in STEP_CHOICES if s >= wanted), STEP_CHOICES[-1])


# --- reading --------------------------------------------------------------------------------------------------

class _Rows:
    """Roll-up lines and raw checks gathered for one window, as columns (histogram payloads stay base64 text)."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.t: list[npt.NDArray[np.float64]] = []
        self.check: list[npt.NDArray[np.int64]] = []
        self.n: list[npt.NDArray[np.int64]] = []
        self.good: list[npt.NDArray[np.int64]] = []
        self.excluded: list[npt.NDArray[np.bool_]] = []
        self.payloads: list[str] = []  # roll-up rows' histograms: base64 text and its header fields, in row order
        self.hist: dict[str, list[npt.NDArray[np.int64]]] = {k: [] for k in ("row", "i", "k", "w", "min", "max")}
        self.raw_rows: list[npt.NDArray[np.int64]] = []  # raw rows: their row number and µs value
        self.raw_values: list[npt.NDArray[np.int64]] = []
        self.size = 0

    def ids(self, names: list[str], index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        mapping = np.array([self.names.setdefault(n, len(self.names)) for n in names], dtype=np.int64)
        return mapping[index] if index.size else np.zeros(0, dtype=np.int64)

    def add_rollup(self, lines: list[dict[str, Any]], excluded: npt.NDArray[np.bool_]) -> None:
        if not lines:
            return
        count = len(lines)
        table = np.array([(r["t"], r["n"], r["good"], h["i"], h["k"], h["w"], h["min"] or 0, h["max"] or 0)
                          for r in lines for h in (r["h"],)], dtype=np.float64).reshape(count, 8)
        self.t.append(table[:, 0])
        self.check.append(np.array([self.names.setdefault(r["check"], len(self.names)) for r in lines],
                                   dtype=np.int64))
        numbers = table[:, 1:].astype(np.int64)
        self.n.append(numbers[:, 0])
        self.good.append(numbers[:, 1])
        self.excluded.append(excluded)
        self.payloads.extend(r["h"]["b"] for r in lines)
        self.hist["row"].append(self.size + np.arange(count, dtype=np.int64))
        for column, key in enumerate(("i", "k", "w", "min", "max"), start=2):
            self.hist[key].append(numbers[:, column])
        self.size += count

    def hist_column(self, key: str) -> npt.NDArray[np.int64]:
        parts = self.hist[key]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def add_raw(self, table: CheckTable, excluded: npt.NDArray[np.bool_]) -> None:
        count = len(table)
        if not count:
            return
        self.t.append(table.started_at)
        self.check.append(self.ids(table.names, table.check))
        self.n.append(np.ones(count, dtype=np.int64))
        self.good.append(table.ok.astype(np.int64))
        self.excluded.append(excluded)
        rows = self.size + np.flatnonzero(table.ok)
        self.raw_rows.append(rows)
        self.raw_values.append(np.clip(np.rint(table.duration_s[table.ok] * 1e6), 0, None).astype(np.int64))
        self.size += count


def _merge_spans(maintenance: tuple[Maintenance, ...], start: float, end: float) -> list[tuple[float, float]]:
    spans = sorted((max(m.start, start), min(m.end, end)) for m in maintenance if m.end > start and m.start < end)
    merged: list[tuple[float, float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _in_spans(t: npt.NDArray[np.float64], spans: list[tuple[float, float]]) -> npt.NDArray[np.bool_]:
    """Whether each time lies in [start, end) of a span (spans sorted, disjoint)."""
    if not spans:
        return np.zeros(t.shape, dtype=np.bool_)
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    at = np.searchsorted(starts, t, side="right") - 1
    return (at >= 0) & (t < ends[np.maximum(at, 0)])


def _overlap(spans: list[tuple[float, float]], start: npt.NDArray[np.float64], end: npt.NDArray[np.float64]
             ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For intervals [start, end): (touches a span, lies wholly inside one)."""
    touches = np.zeros(start.shape, dtype=np.bool_)
    inside = np.zeros(start.shape, dtype=np.bool_)
    for s, e in spans:
        touches |= (start < e) & (end > s)
        inside |= (start >= s) & (end <= e)
    return touches, inside


def _rollup_file(folder: Path, level: str, day: str) -> list[dict[str, Any]]:
    path = folder / "rollup" / level / f"{day}.jsonl"
    lines = path.read_bytes().split(b"\n")[1:]
    try:
        rows: list[dict[str, Any]] = orjson.loads(b"[" + b",".join(line for line in lines if line) + b"]")
    except orjson.JSONDecodeError:
        raise MonitorStoreError(f"{path}: a roll-up line is not JSON; roll-ups are derived from raw/{day}.jsonl.gz: "
                                "delete the file and open the record (the next `rxsuite monitor`) to rebuild it"
                                ) from None
    return rows


def monitor_counts(folder: Path, window: Window, maintenance: tuple[Maintenance, ...] = (),
                   step_s: float = 3600.0) -> MonitorCounts:
    """Counts of the checks that started in the window, from the coarsest level that covers each part exactly."""
    folder = Path(folder)
    if not (folder / STORE_FILE).is_file():
        raise RxError(f"{folder}: no monitor record here ({STORE_FILE} missing); `rxsuite monitor --env NAME` "
                      "writes one")
    start, end = window.start, window.end
    spans = _merge_spans(maintenance, start, end)
    rows = _Rows()
    read = {"1d": 0, "1h": 0, "raw": 0}
    first_day = math.floor(start / DAY_S) * DAY_S
    for d0 in np.arange(first_day, end, DAY_S, dtype=np.float64).tolist():
        day = day_name(d0)
        if not (folder / "raw" / f"{day}.jsonl").exists() and not (folder / "raw" / f"{day}.jsonl.gz").exists():
            continue
        raw_hours = np.ones(24, dtype=np.bool_)  # hours of the day read from raw lines
        if step_s >= _HOUR and rolled_up(folder, day):
            raw_hours = _from_rollups(folder, day, d0, start, end, spans, step_s, rows, read)
        if raw_hours.any():
            table = read_checks(folder, [day], None if raw_hours.all() else _hours_of(d0, raw_hours.tolist()))
            hour = np.floor((table.started_at - d0) / _HOUR).astype(np.int64)
            keep = (table.started_at >= start) & (table.started_at < end) & raw_hours[np.clip(hour, 0, 23)]
            chosen = CheckTable(table.names, table.check[keep], table.started_at[keep], table.duration_s[keep],
                                table.ok[keep])
            read["raw"] += len(chosen)
            rows.add_raw(chosen, _in_spans(chosen.started_at, spans))
    return _counts(rows, step_s, spans, maintenance, folder, window, read)


def _hours_of(d0: float, wanted: list[bool]) -> Callable[[float], bool]:
    """Whether a start time falls in one of the day's wanted hours."""
    def keep(t: float) -> bool:
        return wanted[min(23, max(0, int((t - d0) // _HOUR)))]
    return keep


def _from_rollups(folder: Path, day: str, d0: float, start: float, end: float, spans: list[tuple[float, float]],
                  step_s: float, rows: _Rows, read: dict[str, int]) -> npt.NDArray[np.bool_]:
    """Add the day's roll-up lines that cover whole units of the window; return the hours left to raw lines."""
    if step_s >= DAY_S and start <= d0 and d0 + DAY_S <= end:
        touches, inside = _overlap(spans, np.array([d0]), np.array([d0 + DAY_S]))
        if not touches[0] or inside[0]:
            lines = _rollup_file(folder, "1d", day)
            read["1d"] += len(lines)
            rows.add_rollup(lines, np.full(len(lines), bool(inside[0])))
            return np.zeros(24, dtype=np.bool_)
    hours = d0 + _HOUR * np.arange(24, dtype=np.float64)
    whole = (hours >= start) & (hours + _HOUR <= end)
    touches, inside = _overlap(spans, hours, hours + _HOUR)
    usable = whole & (~touches | inside)
    if usable.any():
        lines = _rollup_file(folder, "1h", day)
        hour_of = np.fromiter(((r["t"] - d0) // _HOUR for r in lines), np.int64, len(lines))
        chosen = usable[np.clip(hour_of, 0, 23)]
        picked = [r for r, c in zip(lines, chosen.tolist(), strict=True) if c]
        read["1h"] += len(picked)
        rows.add_rollup(picked, inside[np.clip(hour_of[chosen], 0, 23)])
    intersects = (hours < end) & (hours + _HOUR > start)
    return intersects & ~usable


def _counts(rows: _Rows, step_s: float, spans: list[tuple[float, float]], maintenance: tuple[Maintenance, ...],
            folder: Path, window: Window, read: dict[str, int]) -> MonitorCounts:
    names = list(rows.names)
    checks = len(names)

    def cat(parts: list[Any], dtype: Any) -> Any:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    t, check, n, good = cat(rows.t, np.float64), cat(rows.check, np.int64), cat(rows.n, np.int64), \
        cat(rows.good, np.int64)
    excluded = cat(rows.excluded, np.bool_)
    kept = ~excluded
    step_abs = np.floor(t / step_s).astype(np.int64)
    steps, step_of = np.unique(step_abs[kept], return_inverse=True)
    row_step = np.full(t.size, -1, dtype=np.int64)
    row_step[kept] = step_of
    cell = step_of * checks + check[kept]
    shape = (steps.size, checks)
    total = np.bincount(cell, weights=n[kept], minlength=steps.size * checks).reshape(shape).astype(np.int64)
    good_cells = np.bincount(cell, weights=good[kept], minlength=steps.size * checks).reshape(shape).astype(np.int64)
    lat_step, lat_check, lat_bucket, lat_count = _latencies(rows, row_step, check, kept, steps.size)
    bounds = np.searchsorted(lat_check, np.arange(checks + 1)).astype(np.int64)
    check_hist = np.bincount(lat_check.astype(np.int64) * BUCKET_COUNT + lat_bucket, weights=lat_count,
                             minlength=checks * BUCKET_COUNT).reshape(checks, BUCKET_COUNT).astype(np.int64)
    low = np.full(checks, -1, dtype=np.int64)
    high = np.full(checks, -1, dtype=np.int64)
    _min_max(rows, check, kept, low, high)
    windows = []
    for m in maintenance:
        if m.end > window.start and m.start < window.end:
            inside = excluded & (t >= m.start) & (t < m.end)
            windows.append({"start": m.start, "end": m.end, "reason": m.reason,
                            "excluded_checks": int(n[inside].sum())})
    gaps = [{"start": max(s, window.start), "end": min(e, window.end), "reason": r}
            for s, e, r in read_gaps(folder) if e > window.start and s < window.end]
    return MonitorCounts(
        names=names, step_s=step_s, step_start=steps.astype(np.float64) * step_s, total=total, good=good_cells,
        lat_step=lat_step, lat_check=lat_check, lat_bucket=lat_bucket, lat_count=lat_count, lat_bounds=bounds,
        check_hist=check_hist, lat_min=low, lat_max=high,
        excluded=np.bincount(check[excluded], weights=n[excluded], minlength=checks).astype(np.int64),
        maintenance=windows, gaps=gaps, first_check=float(t.min()) if t.size else None,
        last_check=float(t.max()) if t.size else None, read=read)


def _latencies(rows: _Rows, row_step: npt.NDArray[np.int64], check: npt.NDArray[np.int64],
               kept: npt.NDArray[np.bool_], n_steps: int) -> tuple[npt.NDArray[Any], ...]:
    """(step, check, bucket, count) of the good checks' latencies outside maintenance, one entry per distinct
    triple, sorted by (check, step, bucket). Roll-up histograms are decoded in one vectorised call per payload
    layout; a roll-up line is alone in its (check, step) and its buckets come sorted, so ordering its lines is
    enough; the few raw values are sorted and merged in."""
    parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    if rows.payloads:
        hist_rows, widths = rows.hist_column("row"), rows.hist_column("w")
        firsts, sizes = rows.hist_column("i"), rows.hist_column("k")
        for width in np.unique(widths).tolist():
            at = np.flatnonzero((widths == width) & kept[hist_rows])
            if not at.size:
                continue
            cells = check[hist_rows[at]] * n_steps + row_step[hist_rows[at]]
            line_order = np.argsort(cells, kind="stable")
            at, cells = at[line_order], cells[line_order]
            for c0 in range(0, at.size, _DECODE_LINES):  # in slices: bounded temporaries
                chunk = slice(c0, c0 + _DECODE_LINES)
                keys, counts = decode_keys([rows.payloads[i] for i in at[chunk].tolist()], firsts[at[chunk]],
                                           sizes[at[chunk]], width, cells[chunk] * BUCKET_COUNT)
                real = counts > 0  # keys come out as cell * buckets + bucket
                parts.append((keys[real], counts[real].astype(np.int32)))
                del keys, counts, real
    if rows.raw_rows:
        raw_rows = np.concatenate(rows.raw_rows)
        values = np.concatenate(rows.raw_values)
        mine = kept[raw_rows]
        raw_rows = raw_rows[mine]
        keys = np.sort((check[raw_rows] * n_steps + row_step[raw_rows]) * BUCKET_COUNT + bucket_index(values[mine]))
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        raw = (keys[starts], np.diff(np.append(starts, keys.size)).astype(np.int32))
    else:
        raw = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    keys = np.concatenate([k for k, _ in parts]) if parts else raw[0][:0]
    counts = np.concatenate([c for _, c in parts]) if parts else raw[1][:0]
    del parts
    if keys.size and raw[0].size:
        at = np.searchsorted(keys, raw[0])
        keys, counts = np.insert(keys, at, raw[0]), np.insert(counts, at, raw[1])
    elif raw[0].size:
        keys, counts = raw
    if keys.size > 1 and (keys[1:] <= keys[:-1]).any():  # several lines in one cell (daily steps): sort and add
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        keys, counts = keys[starts], np.add.reduceat(counts, starts)
    step = np.empty(keys.size, dtype=np.int32)
    owner = np.empty(keys.size, dtype=np.int32)
    bucket = np.empty(keys.size, dtype=np.int32)
    for c0 in range(0, keys.size, _DECODE_LINES * 64):
        chunk = slice(c0, c0 + _DECODE_LINES * 64)
        cell, bucket[chunk] = np.divmod(keys[chunk], BUCKET_COUNT)
        owner[chunk], step[chunk] = np.divmod(cell, n_steps)
    return step, owner, bucket, counts


def _min_max(rows: _Rows, check: npt.NDArray[np.int64], kept: npt.NDArray[np.bool_],
             low: npt.NDArray[np.int64], high: npt.NDArray[np.int64]) -> None:
    """Exact smallest and largest good latency per check (µs): the histograms' min/max, the raw values."""
    big = np.iinfo(np.int64).max
    lows, highs, owners = [], [], []
    if rows.payloads:
        hist_rows = rows.hist_column("row")
        good = np.concatenate(rows.good)[hist_rows]
        use = kept[hist_rows] & (good > 0)
        lows.append(rows.hist_column("min")[use])
        highs.append(rows.hist_column("max")[use])
        owners.append(check[hist_rows[use]])
    if rows.raw_rows:
        raw_rows = np.concatenate(rows.raw_rows)
        values = np.concatenate(rows.raw_values)
        mine = kept[raw_rows]
        lows.append(values[mine])
        highs.append(values[mine])
        owners.append(check[raw_rows[mine]])
    if not owners:
        return
    owner = np.concatenate(owners)
    lo = np.full(low.size, big, dtype=np.int64)
    np.minimum.at(lo, owner, np.concatenate(lows))
    hi = np.full(high.size, -1, dtype=np.int64)
    np.maximum.at(hi, owner, np.concatenate(highs))
    low[:] = np.where(lo == big, -1, lo)
    high[:] = hi


# --- judging --------------------------------------------------------------------------------------------------

_NOT_FROM_CHECKS = {
    "journey_step": "journey steps are measured in run folders (journeys.json); the monitor records whole checks",
    "page_load": "page loads are measured in run folders (journeys.json); the monitor records whole checks",
    "web_vital": "web vitals are measured in run folders (journeys.json); the monitor records whole checks",
    "rto": "RTO is measured by drills (drill.json)",
    "rpo": "RPO is measured by drills (drill.json)",
}


def evaluate_monitor(spec: Spec, source: MonitorSource) -> Evaluation:
    """Every objective of `spec`: availability and latency objectives from the monitor's record, others not
    applicable. The source of each number is in its details (`source`), exclusions and gaps in the notes."""
    window = source.window
    step = step_for(spec, window)
    counts = monitor_counts(source.folder, window, source.maintenance, step)
    steps = StepData(step_s=step, step_start=counts.step_start, outcomes=np.zeros((counts.step_start.size, 0, 0),
                                                                                  dtype=np.int64),
                     name_hist=np.zeros((0, 0), dtype=np.int64), q_total=np.zeros((0, 0), dtype=np.int64),
                     q_bad=np.zeros((0, 0), dtype=np.int64), q_value_us=np.zeros((0, 0)),
                     data_start=window.start, data_end=window.end)
    described = {"type": "monitor", "folder": str(source.folder), "window": window.label,
                 "step_s": step, "lines_read": dict(counts.read),
                 "excluded_maintenance_checks": int(counts.excluded.sum())}
    results: list[ObjectiveResult] = []
    for index, obj in enumerate(spec.objectives):
        if obj.prometheus is not None and obj.prometheus.sole_source:
            results.append(not_applicable(obj, "its metric source is Prometheus, which the monitor's record does "
                                               "not hold"))
            continue
        if obj.kind in _NOT_FROM_CHECKS:
            results.append(not_applicable(obj, _NOT_FROM_CHECKS[obj.kind]))
            continue
        if not counts.names:
            results.append(not_applicable(obj, "the monitor's record holds no check in the window"))
            continue
        ids = select_names(spec, index, obj, counts.names)
        if ids is None:
            results.append(not_applicable(obj, f"no check in the record matches {list(obj.requests or [])}"))
            continue
        groups = [(counts.names[i], (i,)) for i in ids] if obj.per_request else [(None, ids)]
        for request, group in groups:
            judge = _availability if obj.kind == "availability" else _latency
            result = judge(spec, obj, request, np.asarray(group, dtype=np.int64), counts, steps)
            result.details["source"] = described
            result.details["excluded_maintenance_checks"] = int(counts.excluded[list(group)].sum())
            results.append(result)
    return Evaluation(spec_name=spec.name, spec_path=str(spec.path) if spec.path else None, runs=[],
                      confidence=spec.confidence, rate_limited=spec.rate_limited, start=window.start, end=window.end,
                      objectives=results, notes=_notes(source, counts, step), headline=spec.headline_names)


def _availability(spec: Spec, obj: Objective, request: str | None, ids: npt.NDArray[np.int64],
                  counts: MonitorCounts, steps: StepData) -> ObjectiveResult:
    total = counts.total[:, ids].sum(axis=1)
    bad = total - counts.good[:, ids].sum(axis=1)
    result = ObjectiveResult(name=result_name(obj, request), kind=obj.kind, verdict="insufficient-data",
                             objective=f">= {percent(obj.target)}", request=request, unit="ratio",
                             series=step_series(steps, total, bad),
                             details={"checks": int(total.sum()), "failed_checks": int(bad.sum())})
    if obj.budgeting != "occurrences":
        return budgeted_verdict(spec, obj, result, steps, total, bad)
    return ratio_verdict(spec, result, obj.target, int(total.sum() - bad.sum()), int(total.sum()), "checks",
                         steps=(steps, total, bad))


def _latency(spec: Spec, obj: Objective, request: str | None, ids: npt.NDArray[np.int64], counts: MonitorCounts,
             steps: StepData) -> ObjectiveResult:
    assert obj.percentile is not None and obj.threshold is not None
    step, bucket, weight = counts.latencies(ids)
    dense = counts.check_hist[ids].sum(axis=0)
    seen = counts.lat_min[ids] >= 0
    hist = Histogram.from_counts(dense, minimum=int(counts.lat_min[ids][seen].min()) if seen.any() else None,
                                 maximum=int(counts.lat_max[ids][seen].max()) if seen.any() else None)
    n_steps = counts.step_start.size
    total = np.bincount(step, weights=weight, minlength=n_steps).astype(np.int64)
    beyond = bucket >= first_bad_bucket(obj.threshold * 1e6, obj.op == "lte")
    bad = np.bincount(step[beyond], weights=weight[beyond], minlength=n_steps).astype(np.int64)
    series = step_series(steps, total, bad)
    series["value_s"] = (_check_step_percentiles(step, bucket, weight, total, obj.percentile) if ids.size == 1
                         else _group_step_percentiles(counts, ids, total, obj.percentile))
    return histogram_latency_verdict(spec, obj, request, hist, series, steps, total, bad)


def _check_step_percentiles(step: npt.NDArray[Any], bucket: npt.NDArray[Any], weight: npt.NDArray[Any],
                            total: npt.NDArray[np.int64], percentile: float) -> list[float | None]:
    """Each step's nearest-rank percentile (s) from one check's entries, already in (step, bucket) order."""
    out: list[float | None] = [None] * total.size
    if not step.size:
        return out
    cumulative = np.cumsum(weight, dtype=np.int64)
    first = np.searchsorted(step, np.arange(total.size, dtype=np.int32))
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0)
    hits = np.flatnonzero(cumulative - before[step] >= nearest_ranks(percentile, total)[step])
    firsts = hits[np.concatenate([[True], step[hits][1:] != step[hits][:-1]])]
    for s, v in zip(step[firsts].tolist(), (bucket_highest(bucket[firsts]) / 1e6).tolist(), strict=True):
        out[s] = v
    return out




def _group_step_percentiles(counts: MonitorCounts, ids: npt.NDArray[np.int64], total: npt.NDArray[np.int64],
                            percentile: float) -> list[float | None]:
    """Each step's nearest-rank percentile (s) over several checks: dense (step, bucket) blocks of a few steps,
    each check's entries of the block found by binary search (they are in (step, bucket) order)."""
    n_steps = total.size
    values = np.full(n_steps, np.nan)
    used = np.flatnonzero(counts.check_hist[ids].sum(axis=0))
    if not used.size:
        return [None] * n_steps
    low, width = int(used[0]), int(used[-1]) - int(used[0]) + 1  # only the buckets the checks ever used
    block = max(1, _BLOCK_CELLS // width)
    grid = np.arange(0, n_steps + block, block).clip(max=n_steps)
    edges = [a + np.searchsorted(counts.lat_step[a:b], grid.astype(np.int32))
             for a, b in ((int(counts.lat_bounds[i]), int(counts.lat_bounds[i + 1])) for i in ids.tolist())]
    ranks = nearest_ranks(percentile, total)
    for k in range(grid.size - 1):
        s0, s1 = int(grid[k]), int(grid[k + 1])
        if s0 == s1:
            break
        pieces = [slice(int(e[k]), int(e[k + 1])) for e in edges]
        keys = np.concatenate([(counts.lat_step[p].astype(np.int64) - s0) * width + counts.lat_bucket[p] - low
                               for p in pieces])
        weights = np.concatenate([counts.lat_count[p] for p in pieces])
        dense = np.bincount(keys, weights=weights, minlength=(s1 - s0) * width).reshape(s1 - s0, width)
        at = (np.cumsum(dense, axis=1) < ranks[s0:s1, None]).sum(axis=1) + low
        values[s0:s1] = np.where(total[s0:s1] > 0, bucket_highest(np.minimum(at, BUCKET_COUNT - 1)) / 1e6, np.nan)
    return [None if math.isnan(v) else v for v in values.tolist()]


def _notes(source: MonitorSource, counts: MonitorCounts, step: float) -> list[str]:
    window = source.window
    notes = [f"from the monitor's record at {source.folder}, window {window.label}, step {format_duration(step)} "
             f"(lines read: {counts.read['1d']} daily, {counts.read['1h']} hourly roll-ups, {counts.read['raw']} "
             "raw checks)"]
    for m in counts.maintenance:
        notes.append(f"maintenance {_utc(m['start'])} to {_utc(m['end'])} ({m['reason']}): {m['excluded_checks']} "
                     "checks left out of the SLI")
    unobserved = 0.0
    for gap in counts.gaps:
        unobserved += gap["end"] - gap["start"]
        notes.append(f"not observed {_utc(gap['start'])} to {_utc(gap['end'])} ({gap['reason']}): the monitor was "
                     "not running")
    if counts.first_check is None:
        notes.append("not observed: no check in the window")
    else:
        assert counts.last_check is not None
        if counts.first_check - window.start > 2 * step:
            notes.append(f"not observed before the first check, {_utc(counts.first_check)}")
        if window.end - counts.last_check > 2 * step:
            notes.append(f"not observed after the last check, {_utc(counts.last_check)}")
    if unobserved:
        notes.append(f"{format_duration(round(unobserved))} of recorded gaps in the window: not counted as available")
    return notes


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the environment's record ---------------------------------------------------------------------------------

def maintenance_of(env_raw: dict[str, Any]) -> tuple[Maintenance, ...]:
    """The environment file's `monitor.maintenance` windows (already checked by rxcore.envschema)."""
    monitor = Monitor.model_validate(env_raw.get("monitor") or {})
    return tuple(Maintenance(w.start.timestamp(), w.end.timestamp(), w.reason) for w in monitor.maintenance)


def monitor_source(env_name: str, window: Window, runs_dir: Path = DEFAULT_RUNS_DIR) -> MonitorSource:
    """The environment's record and maintenance windows; a ConfigError naming the fix when it has no record."""
    env = load_environment(env_name)
    folder = store_folder(runs_dir, env.name)
    if not (folder / STORE_FILE).is_file():
        raise ConfigError(str(folder), "monitor record", f"environment {env.name!r} has no monitor record here",
                          f"run `rxsuite monitor --env {env.name}` first, or give --runs-dir where its record is")
    return MonitorSource(folder, window, maintenance_of(env.raw))
