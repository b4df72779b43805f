"""Evaluate a spec against one run folder or several (a period): verdicts that say how sure they are.

Verdicts: `pass` when the confidence bound proves the target, `fail` when it refutes it, `insufficient-data`
when the data cannot tell (with how many more samples would), `not-applicable` when the run has no data of that
kind (a load run has no drill.json). Each bound is one-sided at the spec's confidence. A run whose own measurement
is invalid (slo.validity: a saturated generator, a late schedule or probe clock) makes the whole evaluation
`invalid` (exit code 4), never pass or fail; a degraded one keeps its verdict, with the reasons beside it.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rxcore.exitcodes import slo_exit_code
from rxcore.files import write_json_atomic
from slo import artifacts
from slo.aggregate import LatencyQuery, StepData, aggregate
from slo.budget import burn_rates, error_budget, step_series, sufficiency
from slo.durations import format_duration
from slo.histogram import Histogram
from slo.percentile import nearest_rank
from slo.records import OUTCOMES, load_table, record_files
from slo.spec import Objective, Spec, SpecError, load_spec
from slo.stats import clopper_pearson, mean_bounds, order_statistic_ranks
from slo.validity import INVALID, Validity, read_validity

SLO_FILE = "slo.json"
FORMAT = "rxsuite-slo-result/1"
_RECORD_KINDS = ("availability", "latency")  # objectives read from latency.jsonl


class EvaluationError(ValueError):
    """Input that cannot be evaluated (empty or missing run folder, unreadable record)."""


@dataclass
class ObjectiveResult:
    name: str
    kind: str
    verdict: str
    objective: str  # human form, e.g. "p95 < 3s" or ">= 99.9%"
    measured: float | None = None
    target: float | None = None
    unit: str = ""
    request: str | None = None
    samples: int = 0
    ci: dict[str, Any] | None = None
    sufficiency: dict[str, Any] | None = None
    error_budget: dict[str, Any] | None = None
    burn_rates: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Evaluation:
    spec_name: str
    spec_path: str | None
    runs: list[str]
    confidence: float
    rate_limited: str
    start: float | None
    end: float | None
    objectives: list[ObjectiveResult]
    notes: list[str] = field(default_factory=list)
    validity: Validity = field(default_factory=Validity)
    headline: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        if self.validity.status == INVALID:
            return INVALID
        verdicts = {o.verdict for o in self.objectives}
        for verdict in ("fail", "insufficient-data", "pass"):
            if verdict in verdicts:
                return verdict
        return "insufficient-data"  # nothing applicable: nothing was shown

    @property
    def exit_code(self) -> int:
        return int(slo_exit_code(self.verdict, strict=True))

    @property
    def release_verdict(self) -> str:
        """What a release decision rests on, for `rxsuite run` and the report's answer alike: invalid when the
        measurement cannot be trusted, fail when any objective was shown missed, pass when every headline objective
        (Spec.headline_names) was shown met, whatever else could not be shown yet; otherwise insufficient data."""
        if self.verdict in (INVALID, "fail"):
            return self.verdict
        heads = [o.verdict for o in self.objectives if o.name in self.headline]
        return "pass" if heads and all(v == "pass" for v in heads) else "insufficient-data"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "release_verdict": self.release_verdict,
            "headline": list(self.headline),
            "spec": {"name": self.spec_name, "path": self.spec_path},
            "runs": self.runs,
            "confidence": self.confidence,
            "rate_limited": self.rate_limited,
            "start": self.start,
            "end": self.end,
            "notes": self.notes,
            "validity": self.validity.to_dict(),
            "objectives": [_clean({f.name: getattr(o, f.name) for f in fields(o)}) for o in self.objectives],
        }


def evaluate_run(run_dir: Path | str, spec: Spec | Path | str | None = None) -> Evaluation:
    """Evaluate one run folder (the end-of-run call of every job; then write_slo_json)."""
    return evaluate_runs([Path(run_dir)], spec)


def evaluate_runs(run_dirs: Sequence[Path | str], spec: Spec | Path | str | None = None) -> Evaluation:
    """Evaluate several run folders as one period: records merge, journey samples and drill scenarios pool."""
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise EvaluationError("no run folder given")
    for run_dir in dirs:
        _check_run_dir(run_dir)
    files = [f for d in dirs for f in record_files(d)]
    try:
        table = load_table(files) if files else None
        journeys = artifacts.load_journeys(dirs)
        drills = artifacts.load_drills(dirs)
    except (ValueError, OSError) as exc:
        raise EvaluationError(str(exc)) from None
    plan = _plan(spec, table)
    try:
        steps = None if table is None else aggregate(table, spec.series_step_s, [p.query for p in plan if p.query])
    except (ValueError, TypeError) as exc:
        raise EvaluationError(f"{', '.join(map(str, files))}: unreadable histogram payload ({exc})") from None
    results: list[ObjectiveResult] = []
    query_index = 0
    for item in plan:
        if item.skip_reason is not None:
            results.append(not_applicable(item.objective, item.skip_reason, item.request))
            continue
        if item.query is not None:
            assert steps is not None and table is not None
            results.append(_latency(spec, item, steps, query_index, table))
            query_index += 1
        elif item.objective.kind == "availability":
            assert steps is not None
            results.append(_availability(spec, item, steps))
        else:
            results.append(_from_artifacts(spec, item.objective, journeys, drills))
    notes = []
    validity = Validity()
    for run_dir in dirs:
        validity.merge(read_validity(run_dir))
    if table is not None and table.torn_lines:
        notes.append(f"skipped {table.torn_lines} torn last line(s) in the latency record (crash mid-write)")
    return Evaluation(
        spec_name=spec.name,
        spec_path=str(spec.path) if spec.path else None,
        runs=[str(d) for d in dirs],
        confidence=spec.confidence,
        rate_limited=spec.rate_limited,
        start=steps.data_start if steps is not None and len(table or []) else None,
        end=steps.data_end if steps is not None and len(table or []) else None,
        objectives=results,
        notes=notes,
        headline=spec.headline_names,
        validity=validity,
    )


def write_slo_json(evaluation: Evaluation, target: Path | str) -> Path:
    """Write the evaluation atomically to `target` (a run folder gets `slo.json`); returns the file path."""
    path = Path(target)
    if path.is_dir():
        path = path / SLO_FILE
    write_json_atomic(path, evaluation.to_dict(), indent=1)
    return path


# --- planning: which objective reads which data ------------------------------------------------------------

@dataclass
class _Item:
    objective: Objective
    request: str | None = None
    name_ids: tuple[int, ...] = ()
    query: LatencyQuery | None = None
    skip_reason: str | None = None


def _plan(spec: Spec, table: Any) -> list[_Item]:
    items: list[_Item] = []
    for i, objective in enumerate(spec.objectives):
        if objective.prometheus is not None and objective.prometheus.sole_source:
            items.append(_Item(objective, skip_reason="its metric source is Prometheus, which run folders do not "
                                                      "hold (`rxsuite slo rules` reads it)"))
            continue
        if objective.kind not in _RECORD_KINDS:
            items.append(_Item(objective))
            continue
        if table is None:
            items.append(_Item(objective, skip_reason="the run has no latency record (latency.jsonl)"))
            continue
        ids = select_names(spec, i, objective, table.names)
        if ids is None:
            wanted = list(objective.requests or [])
            items.append(_Item(objective, skip_reason=f"no request in the run matches {wanted}"))
            continue
        groups = [(table.names[n], (n,)) for n in ids] if objective.per_request else [(None, ids)]
        if not groups:
            items.append(_Item(objective, skip_reason="the latency record holds no request name"))
        for request, group in groups:
            query = None
            if objective.kind == "latency":
                assert objective.percentile is not None and objective.threshold is not None
                query = LatencyQuery(group, objective.percentile, objective.threshold * 1e6, objective.op == "lte")
            items.append(_Item(objective, request, group, query))
    return items


def select_names(spec: Spec, index: int, objective: Objective, names: list[str]) -> tuple[int, ...] | None:
    if objective.requests is None:
        return tuple(range(len(names)))
    chosen: set[int] = set()
    for pattern in objective.requests:
        hits = [i for i, n in enumerate(names) if n == pattern or fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            if not objective.required:
                return None
            known = ", ".join(repr(n) for n in sorted(names)[:20]) + (" ..." if len(names) > 20 else "")
            raise SpecError(spec.path, objective.requests_line, f"objectives[{index}].requests",
                            f"{pattern!r} matches no request name in the run; known names: {known or 'none'} "
                            "(or set `required: false` to treat it as not applicable)")
        chosen.update(hits)
    return tuple(sorted(chosen))


# --- ratio and latency objectives over the record ------------------------------------------------------------

def _availability(spec: Spec, item: _Item, steps: StepData) -> ObjectiveResult:
    obj = item.objective
    cols = list(item.name_ids)
    per_step = steps.outcomes[:, cols, :].sum(axis=1)
    valid = per_step[:, [OUTCOMES.index(o) for o in obj.valid_outcomes]].sum(axis=1)
    good = per_step[:, [OUTCOMES.index(o) for o in obj.good_outcomes]].sum(axis=1)
    totals = per_step.sum(axis=0)
    details = {"outcomes": {o: int(totals[i]) for i, o in enumerate(OUTCOMES)},
               "test_errors_4xx": int(totals[OUTCOMES.index("http_4xx")]),
               "rate_limited_429": int(totals[OUTCOMES.index("http_429")]),
               "valid_outcomes": list(obj.valid_outcomes), "good_outcomes": list(obj.good_outcomes)}
    series = step_series(steps, valid, valid - good)
    result = ObjectiveResult(name=result_name(obj, item.request), kind=obj.kind, verdict="insufficient-data",
                             objective=f">= {percent(obj.target)}", request=item.request, unit="ratio",
                             details=details, series=series)
    return budgeted_verdict(spec, obj, result, steps, valid, valid - good)


def _latency(spec: Spec, item: _Item, steps: StepData, qi: int, table: Any) -> ObjectiveResult:
    obj = item.objective
    assert obj.percentile is not None and obj.threshold is not None
    counts = steps.name_hist[list(item.name_ids)].sum(axis=0)
    in_names = np.isin(table.name_id, item.name_ids) & (table.outcomes[:, 0] > 0)
    hist = Histogram.from_counts(
        counts,
        minimum=int(table.hist_min[in_names].min()) if in_names.any() else None,
        maximum=int(table.hist_max[in_names].max()) if in_names.any() else None,
    )
    total, bad = steps.q_total[qi], steps.q_bad[qi]
    series = step_series(steps, total, bad)
    series["value_s"] = [None if math.isnan(v) else v / 1e6 for v in steps.q_value_us[qi]]
    return histogram_latency_verdict(spec, obj, item.request, hist, series, steps, total, bad)


def histogram_latency_verdict(spec: Spec, obj: Objective, request: str | None, hist: Histogram,
                              series: dict[str, Any], steps: StepData, total: npt.NDArray[Any],
                              bad: npt.NDArray[Any]) -> ObjectiveResult:
    """A latency objective's result from its merged histogram and per-step counts (`bad`: beyond the threshold), by
    its budgeting method: for every source that keeps the run folder's histograms (run folders, the monitor's
    record)."""
    assert obj.percentile is not None and obj.threshold is not None
    op = "<" if obj.op == "lt" else "<="
    result = ObjectiveResult(
        name=result_name(obj, request), kind=obj.kind, verdict="insufficient-data",
        objective=f"p{obj.percentile:g} {op} {format_duration(obj.threshold)}", request=request, unit="s",
        target=obj.threshold, series=series,
        details={"p50_s": _seconds(hist.value_at_percentile(50)), "p95_s": _seconds(hist.value_at_percentile(95)),
                 "p99_s": _seconds(hist.value_at_percentile(99)), "max_s": _seconds(hist.max),
                 "mean_s": _seconds(hist.mean), "beyond_threshold": int(bad.sum())},
    )
    if obj.budgeting != "occurrences":
        result.unit = "ratio"
        result.details[f"p{obj.percentile:g}_s"] = _seconds(hist.value_at_percentile(obj.percentile))
        return budgeted_verdict(spec, obj, result, steps, total, bad)
    n = hist.count
    result.samples = n
    result.measured = _seconds(hist.value_at_percentile(obj.percentile)) if n else None
    lower_rank, upper_rank = order_statistic_ranks(n, obj.percentile, spec.confidence)
    lower = _seconds(hist.value_at_rank(lower_rank, lowest=True)) if lower_rank else None
    upper = _seconds(hist.value_at_rank(upper_rank)) if upper_rank else None
    return percentile_verdict(spec, result, obj, n, int(bad.sum()), lower, upper, burn=(steps, total, bad))


def percentile_verdict(spec: Spec, result: ObjectiveResult, obj: Objective, n: int, bad: int,
                        lower: float | None, upper: float | None,
                        burn: tuple[StepData, npt.NDArray[Any], npt.NDArray[Any]] | None) -> ObjectiveResult:
    """Shared by record latencies (from histograms) and journey/web-vital samples (exact)."""
    assert obj.threshold is not None and obj.percentile is not None
    threshold = obj.threshold

    def good(value: float) -> bool:
        return value < threshold if obj.op == "lt" else value <= threshold

    result.ci = {"lower": lower, "upper": upper, "confidence": spec.confidence,
                 "method": "order statistics (distribution-free), one-sided bounds"}
    if upper is not None and good(upper):
        result.verdict = "pass"
    elif lower is not None and not good(lower):
        result.verdict = "fail"
    else:
        result.verdict = "insufficient-data"
        result.reason = "too few samples to bound the percentile" if n else "no samples"
    share = obj.percentile / 100.0
    result.sufficiency = sufficiency(bad / n if n else 0.0, share, spec.confidence, n)
    result.error_budget = error_budget(share, n, bad)
    if burn is not None:
        steps, total, bad_steps = burn
        result.burn_rates = burn_rates(spec, steps, total, bad_steps, 1.0 - share)
    return result


def ratio_verdict(spec: Spec, result: ObjectiveResult, target: float, good: int, total: int, unit: str,
                   steps: tuple[StepData, npt.NDArray[Any], npt.NDArray[Any]] | None) -> ObjectiveResult:
    bounds = clopper_pearson(good, total, spec.confidence)
    result.samples = total
    result.measured = good / total if total else None
    result.target = target
    result.ci = {"lower": bounds.lower, "upper": bounds.upper, "confidence": spec.confidence,
                 "method": f"Clopper-Pearson on {unit}, one-sided bounds"}
    _judge(result, total, bounds.lower, bounds.upper, target, f"no valid {unit}",
           f"too few {unit} to tell at this confidence")
    result.sufficiency = sufficiency((total - good) / total if total else 0.0, target, spec.confidence, total)
    result.sufficiency["unit"] = unit
    result.error_budget = error_budget(target, total, total - good)
    result.error_budget["unit"] = unit
    if steps is not None:
        step_data, valid, bad = steps
        result.burn_rates = burn_rates(spec, step_data, valid, bad, 1.0 - target)
    return result


def budgeted_verdict(spec: Spec, obj: Objective, result: ObjectiveResult, steps: StepData,
                     events: npt.NDArray[Any], bad: npt.NDArray[Any]) -> ObjectiveResult:
    """The verdict of a ratio (availability, or the share of requests within a latency threshold) by the objective's
    budgeting method, from per-step events and bad events, for every SLI source alike (OpenSLO's three methods):

    - occurrences: good events / events over the window (Clopper-Pearson on requests);
    - timeslices: good slices / slices with events, a slice being good when its good share reaches the slice target
      (`slice_objective`, OpenSLO `timeSliceTarget`; for latency, the percentile's share) (Clopper-Pearson on slices);
    - ratio_timeslices: the mean of the slices' good shares (each slice with events weighs the same, whatever its
      traffic) against the objective (empirical Bernstein bounds on slices, slo.stats.mean_bounds).
    """
    slice_share = obj.slice_target if obj.kind == "availability" else (obj.percentile or 0.0) / 100.0
    result.details["budgeting"] = obj.budgeting
    if obj.budgeting == "occurrences":
        return ratio_verdict(spec, result, obj.target, int(events.sum() - bad.sum()), int(events.sum()), "requests",
                             steps=(steps, events, bad))
    assert obj.slice_s is not None
    slice_events, slice_bad = slice_totals(spec, steps, obj, events, bad)
    result.details["slices"] = {"width_s": obj.slice_s, "with_events": int(slice_events.size),
                                "requests": int(slice_events.sum()), "bad_requests": int(slice_bad.sum())}
    if obj.budgeting == "timeslices":
        assert slice_share is not None
        result.objective = (f">= {percent(obj.target)} of {format_duration(obj.slice_s)} slices with "
                            + (f">= {percent(slice_share)} good" if obj.kind == "availability" else result.objective))
        good_slices = int((slice_bad <= (1.0 - slice_share) * slice_events + 1e-9).sum())
        return ratio_verdict(spec, result, obj.target, good_slices, int(slice_events.size), "slices", steps=None)
    what = "good share" if obj.kind == "availability" else f"share within {result.objective}"
    result.objective = f"mean {what} of {format_duration(obj.slice_s)} slices >= {percent(obj.target)}"
    return ratio_timeslices_verdict(spec, result, obj.target, 1.0 - slice_bad / slice_events)


def ratio_timeslices_verdict(spec: Spec, result: ObjectiveResult, target: float,
                             ratios: npt.NDArray[np.float64]) -> ObjectiveResult:
    """OpenSLO RatioTimeslices: the mean of the slices' success ratios against the target. The error budget is
    counted in slices: (1 - target) x slices allowed, the sum of (1 - ratio) consumed."""
    n = int(ratios.size)
    bounds = mean_bounds(ratios, spec.confidence)
    result.samples = n
    result.measured = float(ratios.mean()) if n else None
    result.target = target
    result.ci = {"lower": bounds.lower, "upper": bounds.upper, "confidence": spec.confidence,
                 "method": "empirical Bernstein on the mean of slice ratios, one-sided bounds"}
    _judge(result, n, bounds.lower, bounds.upper, target, "no slice with events",
           "too few slices to tell at this confidence")
    consumed = float((1.0 - ratios).sum())
    allowed = (1.0 - target) * n
    result.error_budget = {"allowed": allowed, "consumed": consumed, "remaining": allowed - consumed,
                           "consumed_share": consumed / allowed if allowed > 0 else None, "unit": "slices"}
    result.sufficiency = {"needed": None, "have": n, "more": None, "unit": "slices",
                          "to_show": "pass" if result.measured is not None and result.measured >= target else "fail",
                          "assumes_bad_share": None if result.measured is None else 1.0 - result.measured}
    return result


def _judge(result: ObjectiveResult, samples: int, lower: float | None, upper: float | None, target: float,
           none: str, too_few: str) -> None:
    """A share's verdict at the spec's confidence: pass when even its lower bound reaches the target, fail when
    even its upper bound misses it, else not enough evidence (`none` without samples, else `too_few`)."""
    if samples and lower is not None and lower >= target:
        result.verdict = "pass"
    elif samples and upper is not None and upper < target:
        result.verdict = "fail"
    else:
        result.verdict = "insufficient-data"
        result.reason = too_few if samples else none


def slice_totals(spec: Spec, steps: StepData, obj: Objective, events: npt.NDArray[Any], bad: npt.NDArray[Any]
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(events, bad events) of each slice that has events; slices are aligned to the epoch (whole minutes, UTC)."""
    assert obj.slice_s is not None
    if obj.slice_s % steps.step_s:
        raise SpecError(spec.path, obj.line, f"objective {obj.name}: slice",
                        f"{format_duration(obj.slice_s)} is not a multiple of series_step "
                        f"{format_duration(steps.step_s)}")
    slice_id = np.floor(steps.step_start / obj.slice_s).astype(np.int64)
    _, inverse = np.unique(slice_id, return_inverse=True)
    events_per_slice = np.bincount(inverse, weights=events)
    bad_per_slice = np.bincount(inverse, weights=bad)
    has_events = events_per_slice > 0
    return events_per_slice[has_events].astype(np.float64), bad_per_slice[has_events].astype(np.float64)


# --- journeys and drills --------------------------------------------------------------------------------------

def _from_artifacts(spec: Spec, obj: Objective, journeys: artifacts.JourneySamples | None,
                    drills: list[artifacts.DrillScenario] | None) -> ObjectiveResult:
    if obj.kind in ("rto", "rpo"):
        if drills is None:
            return not_applicable(obj, "the run has no drill.json")
        return _drill(obj, drills)
    if journeys is None:
        return not_applicable(obj, "the run has no journeys.json")
    if obj.kind == "journey_step":
        samples = journeys.steps
    elif obj.kind == "page_load":
        samples = journeys.page_loads
    else:
        assert obj.vital is not None
        samples = journeys.vitals[obj.vital]
    return _exact_percentile(spec, obj, np.asarray(samples, dtype=np.float64))


def _exact_percentile(spec: Spec, obj: Objective, values: npt.NDArray[np.float64]) -> ObjectiveResult:
    assert obj.percentile is not None and obj.threshold is not None
    unit = "" if obj.vital == "cls" else "s"
    op = "<" if obj.op == "lt" else "<="
    shown = f"{obj.threshold:g}" if obj.vital == "cls" else format_duration(obj.threshold)
    ordered = np.sort(values)
    n = int(ordered.size)
    bad = int((ordered >= obj.threshold).sum() if obj.op == "lt" else (ordered > obj.threshold).sum())
    result = ObjectiveResult(name=obj.name, kind=obj.kind, verdict="insufficient-data",
                             objective=f"p{obj.percentile:g} {op} {shown}", unit=unit, target=obj.threshold,
                             samples=n, details={"beyond_threshold": bad})
    if n:
        result.measured = float(ordered[nearest_rank(obj.percentile, n) - 1])
    lower_rank, upper_rank = order_statistic_ranks(n, obj.percentile, spec.confidence)
    lower = float(ordered[lower_rank - 1]) if lower_rank else None
    upper = float(ordered[upper_rank - 1]) if upper_rank else None
    return percentile_verdict(spec, result, obj, n, bad, lower, upper, burn=None)


def _drill(obj: Objective, drills: list[artifacts.DrillScenario]) -> ObjectiveResult:
    assert obj.threshold is not None
    field_name = "rto_s" if obj.kind == "rto" else "rpo_s"
    measuring = [s for s in drills if field_name in s.measured]
    values = {s.name: getattr(s, field_name) for s in measuring}
    result = ObjectiveResult(name=obj.name, kind=obj.kind, verdict="insufficient-data", unit="s",
                             objective=f"<= {format_duration(obj.threshold)}", target=obj.threshold,
                             samples=len(measuring), details={"scenarios": values})
    if not measuring:
        return not_applicable(obj, f"no drill scenario measured {field_name}")
    missing = [name for name, v in values.items() if v is None]
    measured = [v for v in values.values() if v is not None]
    result.measured = max(measured) if measured else None
    failed = bool(missing) or (result.measured is not None and result.measured > obj.threshold)
    if obj.kind == "rpo" and obj.max_lost_writes is not None:
        lost = {s.name: s.rpo_count for s in measuring}
        result.details["lost_writes"] = lost
        result.details["max_lost_writes"] = obj.max_lost_writes
        failed = failed or any(c is None or c > obj.max_lost_writes for c in lost.values())
    result.verdict = "fail" if failed else "pass"
    if missing:
        result.reason = f"measured but unknown (never recovered?) in: {', '.join(missing)}"
    result.details["method"] = "measured in the drill, not estimated: no confidence interval"
    return result


# --- shared pieces ----------------------------------------------------------------------------------------------

def not_applicable(obj: Objective, reason: str, request: str | None = None) -> ObjectiveResult:
    return ObjectiveResult(name=result_name(obj, request), kind=obj.kind, verdict="not-applicable",
                           objective="", request=request, reason=reason)


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise EvaluationError(f"{run_dir}: not a run folder (no such directory)")
    if not record_files(run_dir) and not any((run_dir / f).is_file()
                                             for f in (artifacts.JOURNEYS_FILE, artifacts.DRILL_FILE)):
        raise EvaluationError(
            f"{run_dir}: empty run folder: none of latency.jsonl, {artifacts.JOURNEYS_FILE}, "
            f"{artifacts.DRILL_FILE} is there, so there is nothing to evaluate (see docs/run-folder.md)"
        )


def result_name(obj: Objective, request: str | None) -> str:
    return f"{obj.name}[{request}]" if request is not None else obj.name


def _seconds(value_us: float | None) -> float | None:
    return None if value_us is None else value_us / 1e6


def percent(share: float) -> str:
    return f"{share * 100:g}%"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if all(type(v) is int for v in value):  # a per-step count series: nothing to clean, and long
            return list(value)
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
