"""OpenSLO `openslo/v1` documents mapped onto the rxsuite spec model.

Supported: `kind: SLO` with an inline `indicator` or an `indicatorRef` to a `kind: SLI` document in the same
file; `ratioMetric` (good or bad over total) and `thresholdMetric`; `budgetingMethod` Occurrences,
Timeslices or RatioTimeslices (slo.evaluate.budgeted_verdict); objectives with `target` or `targetPercent`,
`op`/`value`, `timeSliceTarget`/`timeSliceWindow`.
Metric sources are `type: rxsuite`, whose `spec` says what to read from the run folder (docs/run-folder.md):
  ratioMetric:      good/bad/total: {metricSource: {type: rxsuite, spec: {outcomes: [ok], requests: [...]}}}
  thresholdMetric:  {metricSource: {type: rxsuite, spec: {metric: latency, requests: [...]}}}, value in seconds
or `type: Prometheus`, read by `rxsuite slo rules` only (docs/monitoring.md): `spec.query` is a series selector,
  ratioMetric:      good/bad/total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{...}'}}}
  thresholdMetric:  {metricSource: {type: Prometheus, spec: {query: 'HISTOGRAM{...}', buckets: [0.5, 1, 3]}}}
A source may instead name a `kind: DataSource` document of the file with `metricSourceRef` (its `spec.type` is the
source's type; its `spec.connectionDetails.url` is the Prometheus `rxsuite slo evaluate --env` reads, header values
by environment variable name in `connectionDetails.headersEnv`; Spec.extra["datasources"] keeps them).
Other kinds (Service, AlertPolicy, ...) are accepted and ignored. `timeWindow` (rolling, or calendar-aligned from
`calendar.startTime` in `calendar.timeZone`) is the window `rxsuite slo evaluate --env` judges over when no
--window is given (Spec.extra["time_windows"], by objective); its duration is the error budget's period in
generated alerts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from rxcore import validation
from slo.durations import parse_duration
from slo.promconfig import PromConfig, Selector, parse_selector
from slo.spec import (
    BUDGETING,
    OUTCOMES,
    Objective,
    Spec,
    YamlDoc,
    check_unique_names,
    duration_field,
    parse_percentile,
)
from slo.windows import TimeWindow, openslo_start

API_VERSION = "openslo/v1"
_METRICS = {"latency": "latency", "journey_step": "journey_step", "page_load": "page_load", "rto": "rto",
            "rpo": "rpo", "lcp": "web_vital", "inp": "web_vital", "cls": "web_vital", "ttfb": "web_vital",
            "fcp": "web_vital"}
_METHODS = {"Occurrences": "occurrences", "Timeslices": "timeslices", "RatioTimeslices": "ratio_timeslices"}


def spec_from_openslo(docs: list[YamlDoc]) -> Spec:
    slis: dict[str, tuple[YamlDoc, tuple[Any, ...], dict[str, Any]]] = {}
    for doc in docs:
        _check_api(doc)
    sources = _datasources(docs)
    for doc in docs:
        if doc.data.get("kind") in ("SLI", "SLO"):
            _resolve_refs(doc, (), doc.data, sources)
    for doc in docs:
        if doc.data.get("kind") == "SLI":
            name = _meta_name(doc)
            slis[name] = (doc, ("spec",), _mapping(doc, ("spec",), doc.data.get("spec")))
    objectives: list[Objective] = []
    wheres: list[tuple[YamlDoc, tuple[Any, ...]]] = []
    windows: dict[str, TimeWindow] = {}
    for doc in docs:
        if doc.data.get("kind") != "SLO":
            continue
        window = _time_window(doc, doc.data.get("spec"))
        for objective, where in _slo(doc, slis):
            objectives.append(objective)
            wheres.append((doc, where))
            if window is not None:
                windows[objective.name] = window
    if not objectives:
        raise docs[0].error(("kind",), "the file holds no `kind: SLO` document")
    check_unique_names(docs[0], objectives, [w for _, w in wheres])
    first = docs[0]
    return Spec(name=str(first.path.stem if first.path else "openslo"), objectives=tuple(objectives), path=first.path,
                description="OpenSLO documents", extra={"source": API_VERSION, "datasources": sources,
                                                           "time_windows": windows})


def _datasources(docs: list[YamlDoc]) -> dict[str, dict[str, Any]]:
    """`kind: DataSource` documents by name: {type, url, headers_env}."""
    sources: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc.data.get("kind") != "DataSource":
            continue
        spec = _mapping(doc, ("spec",), doc.data.get("spec"))
        kind = spec.get("type")
        if not isinstance(kind, str) or not kind:
            raise doc.error(("spec", "type"), "names the source's type, e.g. Prometheus")
        details = _mapping(doc, ("spec", "connectionDetails"), spec.get("connectionDetails") or {})
        url, headers = details.get("url"), details.get("headersEnv") or {}
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise doc.error(("spec", "connectionDetails", "url"), f"{url!r} must be an http(s) URL")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise doc.error(("spec", "connectionDetails", "headersEnv"),
                            "must map header names to environment variable names (values never go in the file)")
        sources[_meta_name(doc)] = {"type": kind, "url": url.rstrip("/") if url else None, "headers_env": headers}
    return sources


def _resolve_refs(doc: YamlDoc, where: tuple[Any, ...], node: Any, sources: dict[str, dict[str, Any]]) -> None:
    """A `metricSource` naming a DataSource by `metricSourceRef` takes its type, and remembers its name."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            _resolve_refs(doc, (*where, i), item, sources)
        return
    if not isinstance(node, dict):
        return
    source = node.get("metricSource")
    if isinstance(source, dict) and "metricSourceRef" in source:
        ref = source["metricSourceRef"]
        if not isinstance(ref, str) or ref not in sources:
            raise doc.error((*where, "metricSource", "metricSourceRef"),
                            f"{ref!r} names no `kind: DataSource` document in this file; "
                            f"known: {', '.join(sources) or 'none'}")
        source.setdefault("type", sources[ref]["type"])
        if isinstance(source.get("spec"), dict):
            source["spec"].setdefault("datasource", ref)
    for key, value in node.items():
        _resolve_refs(doc, (*where, key), value, sources)


def _slo(doc: YamlDoc, slis: dict[str, Any]) -> list[tuple[Objective, tuple[Any, ...]]]:
    name = _meta_name(doc)
    spec = _mapping(doc, ("spec",), doc.data.get("spec"))
    method_raw = spec.get("budgetingMethod", "Occurrences")
    if not isinstance(method_raw, str) or method_raw not in _METHODS:
        raise doc.error(("spec", "budgetingMethod"),
                        f"{method_raw!r} is not supported; allowed: {', '.join(_METHODS)}")
    budgeting = _METHODS[method_raw]
    assert budgeting in BUDGETING
    period_s = _period(spec)
    raw_objectives = spec.get("objectives")
    if not isinstance(raw_objectives, list) or not raw_objectives:
        raise doc.error(("spec", "objectives"), "must be a non-empty list")
    out = []
    for i, raw in enumerate(raw_objectives):
        where = ("spec", "objectives", i)
        raw = _mapping(doc, where, raw)
        indicator = _indicator(doc, where, raw, spec, slis)
        label = raw.get("displayName") or raw.get("name")
        objective_name = name if len(raw_objectives) == 1 else f"{name}:{label or i}"
        out.append((_objective(doc, where, raw, indicator, objective_name, budgeting, period_s), where))
    return out


def _indicator(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any], spec: dict[str, Any],
               slis: dict[str, Any]) -> tuple[YamlDoc, tuple[Any, ...], dict[str, Any]]:
    for owner, at in ((raw, where), (spec, ("spec",))):
        if "indicator" in owner:
            ind = _mapping(doc, (*at, "indicator"), owner["indicator"])
            return doc, (*at, "indicator", "spec"), _mapping(doc, (*at, "indicator", "spec"), ind.get("spec"))
        if "indicatorRef" in owner:
            ref = owner["indicatorRef"]
            if not isinstance(ref, str) or ref not in slis:
                raise doc.error((*at, "indicatorRef"), f"{ref!r} names no `kind: SLI` document in this file; "
                                                       f"known: {', '.join(slis) or 'none'}")
            found: tuple[YamlDoc, tuple[Any, ...], dict[str, Any]] = slis[ref]
            return found
    raise doc.error(("spec",), "needs `indicator` (inline SLI) or `indicatorRef`")


def _objective(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any],
               indicator: tuple[YamlDoc, tuple[Any, ...], dict[str, Any]], name: str, budgeting: str,
               period_s: float | None) -> Objective:
    target = _target(doc, where, raw)
    slice_s = None
    slice_target: float | None = None
    if budgeting != "occurrences":
        if raw.get("timeSliceWindow") is None:
            raise doc.error(where, f"{_method(budgeting)} needs `timeSliceWindow` (the slice, e.g. 1m)")
        slice_s = duration_field(doc, (*where, "timeSliceWindow"), _minutes(raw["timeSliceWindow"]))
        if slice_s % 60:
            raise doc.error((*where, "timeSliceWindow"), "timeslices must be whole minutes (e.g. 1m, 5m)")
    if budgeting == "timeslices":
        if raw.get("timeSliceTarget") is None:
            raise doc.error(where, "Timeslices needs `timeSliceTarget` (share of good events a slice needs)")
        slice_target = _share(doc, (*where, "timeSliceTarget"), raw["timeSliceTarget"])
    elif budgeting == "ratio_timeslices" and raw.get("timeSliceTarget") is not None:
        raise doc.error((*where, "timeSliceTarget"), "belongs to Timeslices: RatioTimeslices compares the mean of "
                                                     "the slices' ratios with `target`")
    ind_doc, ind_where, ind = indicator
    common: dict[str, Any] = {"name": name, "line": doc.line(where), "budgeting": budgeting, "slice_s": slice_s,
                              "description": str(raw.get("displayName", ""))}
    if "ratioMetric" in ind:
        ratio = _mapping(ind_doc, (*ind_where, "ratioMetric"), ind["ratioMetric"])
        at = (*ind_where, "ratioMetric")
        if _is_prometheus(ratio.get("total")):
            return Objective(**common, kind="availability", target=target, slice_target=slice_target,
                             prometheus=_prometheus_ratio(ind_doc, at, ratio, period_s))
        total_outcomes, requests, requests_line = _source(ind_doc, (*at, "total"), ratio.get("total"), "outcomes")
        if "good" in ratio:
            good, _, _ = _source(ind_doc, (*at, "good"), ratio["good"], "outcomes")
        elif "bad" in ratio:
            bad, _, _ = _source(ind_doc, (*at, "bad"), ratio["bad"], "outcomes")
            good = tuple(o for o in total_outcomes if o not in bad)
        else:
            raise ind_doc.error(at, "needs `good` or `bad` next to `total`")
        if not set(good) <= set(total_outcomes):
            raise ind_doc.error((*at, "good"), f"outcomes {sorted(set(good) - set(total_outcomes))} are not in total")
        return Objective(**common, kind="availability", target=target, good_outcomes=good,
                         valid_outcomes=total_outcomes, requests=requests, requests_line=requests_line,
                         slice_target=slice_target)
    if "thresholdMetric" in ind:
        at = (*ind_where, "thresholdMetric")
        prometheus = None
        metric: tuple[str, ...]
        if _is_prometheus(ind["thresholdMetric"]):
            metric, requests, requests_line = ("latency",), None, None
            prometheus = _prometheus_histogram(ind_doc, at, ind["thresholdMetric"], period_s)
        else:
            metric, requests, requests_line = _source(ind_doc, at, ind["thresholdMetric"], "metric")
        kind = _METRICS[metric[0]]
        op = raw.get("op")
        if op not in ("lt", "lte"):
            raise doc.error((*where, "op"), f"{op!r} is not supported for {metric[0]}; allowed: lt, lte "
                                            "(good events are those below the value)")
        try:
            value = validation.finite(raw.get("value"), above=0)
        except ValueError as exc:
            raise doc.error((*where, "value"), f"{exc} (seconds > 0; CLS is unitless)") from None
        if kind in ("rto", "rpo"):
            return Objective(**common, kind=kind, threshold=float(value), op="lte", target=1.0)
        if budgeting != "occurrences" and kind != "latency":
            raise doc.error(where, f"{_method(budgeting)} is supported for latency and ratio metrics, "
                                   f"not {metric[0]}")
        share = slice_target if slice_target is not None and budgeting == "timeslices" else target
        percentile = parse_percentile(round(share * 100, 9))
        fields: dict[str, Any] = {"percentile": percentile, "threshold": float(value), "op": op,
                                  "target": target if budgeting == "timeslices" else percentile / 100}
        if kind == "web_vital":
            fields["vital"] = metric[0]
        if kind == "latency":
            fields |= {"requests": requests, "requests_line": requests_line, "prometheus": prometheus}
        return Objective(**common, kind=kind, **fields)
    raise ind_doc.error(ind_where, "needs `ratioMetric` or `thresholdMetric`")


def _source(doc: YamlDoc, where: tuple[Any, ...], raw: Any, wanted: str
            ) -> tuple[tuple[str, ...], tuple[str, ...] | None, int | None]:
    """(outcomes or (metric,), requests or None, line of requests) from {metricSource: {type: rxsuite, spec}}."""
    raw = _mapping(doc, where, raw)
    source = _mapping(doc, (*where, "metricSource"), raw.get("metricSource"))
    if source.get("type") != "rxsuite":
        raise doc.error((*where, "metricSource", "type"),
                        f"{source.get('type')!r} is not readable from a run folder; allowed: rxsuite, or Prometheus "
                        "for every source of the indicator")
    spec = _mapping(doc, (*where, "metricSource", "spec"), source.get("spec"))
    at = (*where, "metricSource", "spec")
    requests = spec.get("requests")
    if requests is not None:
        if isinstance(requests, str):
            requests = [requests]
        if not isinstance(requests, list) or not all(isinstance(r, str) and r for r in requests):
            raise doc.error((*at, "requests"), "must be a request name or a list of names / glob patterns")
        requests = tuple(requests)
    if wanted == "outcomes":
        outcomes = spec.get("outcomes")
        if (not isinstance(outcomes, list) or not outcomes or not all(isinstance(o, str) for o in outcomes)
                or not set(outcomes) <= set(OUTCOMES)):
            raise doc.error((*at, "outcomes"), f"{outcomes!r} must be a list drawn from {', '.join(OUTCOMES)}")
        return tuple(outcomes), requests, doc.line((*at, "requests"))
    metric = spec.get("metric")
    if not isinstance(metric, str) or metric not in _METRICS:
        raise doc.error((*at, "metric"), f"{metric!r} is not a metric; allowed: {', '.join(_METRICS)}")
    return (metric,), requests, doc.line((*at, "requests"))


def _is_prometheus(raw: Any) -> bool:
    source = raw.get("metricSource") if isinstance(raw, dict) else None
    return isinstance(source, dict) and str(source.get("type", "")).lower() == "prometheus"


def _prometheus_query(doc: YamlDoc, where: tuple[Any, ...], raw: Any) -> tuple[Selector, dict[str, Any]]:
    """(Selector, source spec) of a `type: Prometheus` metric source; its query must be a series selector."""
    if not _is_prometheus(raw):
        raise doc.error((*where, "metricSource", "type"), "mixes source types; every source of an indicator is "
                                                          "Prometheus or every one is rxsuite")
    spec = _mapping(doc, (*where, "metricSource", "spec"), raw["metricSource"].get("spec"))
    try:
        return parse_selector(spec.get("query")), spec
    except ValueError as exc:
        raise doc.error((*where, "metricSource", "spec", "query"), str(exc)) from None


def _prometheus_ratio(doc: YamlDoc, at: tuple[Any, ...], ratio: dict[str, Any], period_s: float | None
                      ) -> PromConfig:
    total, _ = _prometheus_query(doc, (*at, "total"), ratio.get("total"))
    side = "bad" if "bad" in ratio else "good"
    if side not in ratio:
        raise doc.error(at, "needs `good` or `bad` next to `total`")
    selector, spec = _prometheus_query(doc, (*at, side), ratio[side])
    return _with_period(PromConfig(total=total, bad=selector if side == "bad" else None,
                                   good=selector if side == "good" else None, sole_source=True,
                                   where=".".join(map(str, at)), line=doc.line(at),
                                   datasource=spec.get("datasource")), period_s)


def _prometheus_histogram(doc: YamlDoc, at: tuple[Any, ...], raw: dict[str, Any], period_s: float | None
                          ) -> PromConfig:
    histogram, spec = _prometheus_query(doc, at, raw)
    buckets = spec.get("buckets")
    if (not isinstance(buckets, list) or not buckets
            or not all(isinstance(b, int | float) and not isinstance(b, bool) and b > 0 for b in buckets)):
        raise doc.error((*at, "metricSource", "spec", "buckets"),
                        f"{buckets!r} must list the histogram's bucket boundaries in seconds, e.g. [0.5, 1, 3, 5]")
    return _with_period(PromConfig(histogram=histogram, buckets=tuple(sorted(float(b) for b in buckets)),
                                   sole_source=True, where=".".join(map(str, at)), line=doc.line(at),
                                   datasource=spec.get("datasource")), period_s)


def _with_period(config: PromConfig, period_s: float | None) -> PromConfig:
    """The config with the SLO's own budget period when it names one, else PromConfig's default."""
    return dataclasses.replace(config, period_s=period_s) if period_s else config


def _time_window(doc: YamlDoc, spec: Any) -> TimeWindow | None:
    """The SLO's `timeWindow[0]`: rolling (`duration`, `isRolling: true`, the default) or calendar-aligned
    (`isRolling: false`, `calendar: {startTime, timeZone}`; without `calendar`, periods from 1970-01-01 UTC, so `1M`
    and `1Q` are calendar months and quarters). None when the SLO names none."""
    windows = spec.get("timeWindow") if isinstance(spec, dict) else None
    if windows is None:
        return None
    where: tuple[Any, ...] = ("spec", "timeWindow", 0)
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise doc.error(("spec", "timeWindow"), "must be a list of exactly one {duration, isRolling, calendar}")
    raw = windows[0]
    rolling = raw.get("isRolling", "calendar" not in raw)
    if not isinstance(rolling, bool):
        raise doc.error((*where, "isRolling"), f"{rolling!r} must be true or false")
    try:
        if rolling or "calendar" not in raw:
            return TimeWindow(str(raw.get("duration")), rolling)
        calendar = _mapping(doc, (*where, "calendar"), raw["calendar"])
        start = openslo_start(str(calendar.get("startTime")), str(calendar.get("timeZone", "UTC")))
        return TimeWindow(str(raw.get("duration")), False, start)
    except ValueError as exc:
        raise doc.error(where, str(exc)) from None


def _period(spec: dict[str, Any]) -> float | None:
    """The SLO's `timeWindow` duration (the budget's period), if it names one."""
    windows = spec.get("timeWindow")
    if isinstance(windows, list) and windows and isinstance(windows[0], dict):
        with contextlib.suppress(ValueError):  # calendar units (1M, 1Q) keep the 30d default, documented
            return parse_duration(windows[0].get("duration"))
    return None


def _method(budgeting: str) -> str:
    return next(name for name, ours in _METHODS.items() if ours == budgeting)


def _minutes(value: Any) -> Any:
    """`timeSliceWindow` as OpenSLO allows it: a duration, or a bare number of minutes."""
    return f"{value}m" if isinstance(value, int) and not isinstance(value, bool) else value


def _target(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any]) -> float:
    if raw.get("target") is not None:
        return _share(doc, (*where, "target"), raw["target"])
    if raw.get("targetPercent") is not None:
        value = raw["targetPercent"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
            raise doc.error((*where, "targetPercent"), f"{value!r} must be a number in (0, 100)")
        return round(float(value) / 100, 12)
    raise doc.error(where, "needs `target` (0 < target < 1) or `targetPercent`")


def _share(doc: YamlDoc, where: tuple[Any, ...], value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise doc.error(where, f"{value!r} must be a number in (0, 1), e.g. 0.999; 1 or more leaves no error budget")
    return float(value)


def _check_api(doc: YamlDoc) -> None:
    data = doc.data
    if not isinstance(data, dict) or data.get("apiVersion") != API_VERSION:
        got = data.get("apiVersion") if isinstance(data, dict) else None
        raise doc.error(("apiVersion",), f"{got!r} is not supported; allowed: {API_VERSION}")


def _meta_name(doc: YamlDoc) -> str:
    meta = _mapping(doc, ("metadata",), doc.data.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise doc.error(("metadata", "name"), "is required (a DNS-label style name)")
    return name


def _mapping(doc: YamlDoc, where: tuple[Any, ...], value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise doc.error(where, "must be a mapping")
    return value
