"""How an objective names its Prometheus metrics and its burn-rate alerts (the `prometheus:` block of a spec).

Metrics are named by series selectors (`http_requests_total{job="rx-app"}`), never by whole queries, so the rule
generator owns the windows (`sum(rate(SELECTOR[5m]))`) and can check a latency threshold against the histogram's
bucket boundaries. Alerts default to the SRE workbook's multiwindow, multi-burn-rate table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from slo.durations import ALLOWED as DURATION_ALLOWED
from slo.durations import parse_duration

__all__ = ["WORKBOOK_ALERTS", "AlertWindow", "PromConfig", "Selector", "parse_prometheus", "parse_selector"]

SEVERITIES = ("page", "ticket")
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_MATCHER = re.compile(rf'\s*({_LABEL})\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_SELECTOR = re.compile(rf"\s*({_NAME})\s*(?:\{{(.*)\}})?\s*", re.DOTALL)
SELECTOR_HELP = 'a series selector: a metric name with optional label matchers, e.g. http_requests_total{job="rx"}'


class _Doc(Protocol):
    def error(self, where: tuple[Any, ...], message: str) -> Exception: ...
    def line(self, where: tuple[Any, ...]) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Selector:
    """A metric name and its label matchers, each (label, op, value) as PromQL writes them."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...] = ()

    def promql(self, metric: str | None = None, extra: tuple[tuple[str, str, str], ...] = ()) -> str:
        """The selector as PromQL, optionally with another metric name (a histogram's _bucket) or more matchers."""
        parts = [f'{label}{op}"{value}"' for label, op, value in (*self.matchers, *extra)]
        return f"{metric or self.metric}{{{','.join(parts)}}}" if parts else (metric or self.metric)


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """One multiwindow burn-rate condition: both windows burn faster than `factor` times the sustainable rate."""

    severity: str
    long_s: float
    short_s: float
    factor: float
    for_s: float = 0.0


WORKBOOK_ALERTS = (AlertWindow("page", 3600, 300, 14.4), AlertWindow("page", 21600, 1800, 6.0),
                   AlertWindow("ticket", 259200, 21600, 1.0))


@dataclass(frozen=True, slots=True)
class PromConfig:
    """Where an objective's events live in Prometheus and how its budget burn alerts.

    Availability names `total` and one of `bad` / `good`; latency names a classic `histogram` (without the
    `_bucket` suffix) and the `buckets` it has, one of which must equal the objective's threshold.
    """

    total: Selector | None = None
    bad: Selector | None = None
    good: Selector | None = None
    histogram: Selector | None = None
    buckets: tuple[float, ...] = ()
    by: tuple[str, ...] = ()
    period_s: float = 30 * 86400.0
    min_events: float = 100.0
    runbook_url: str | None = None
    alert_name: str | None = None
    alerts: tuple[AlertWindow, ...] = WORKBOOK_ALERTS
    sole_source: bool = False  # an OpenSLO objective whose metrics exist only in Prometheus
    datasource: str | None = None  # an OpenSLO `kind: DataSource` by name (its URL); None: the environment's
    where: str = "prometheus"  # field path, for messages
    line: int | None = None


_FIELDS = {
    "availability": ("total", "bad", "good", "by", "period", "min_events", "runbook_url", "alert_name", "alerts"),
    "latency": ("histogram", "buckets", "by", "period", "min_events", "runbook_url", "alert_name", "alerts"),
}


def parse_selector(text: Any) -> Selector:
    """A Selector from PromQL selector text; ValueError saying what is allowed."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not {SELECTOR_HELP}")
    match = _SELECTOR.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not {SELECTOR_HELP} (rxsuite adds rate() and the window itself)")
    body = (match.group(2) or "").strip().rstrip(",")
    matchers = []
    pos = 0
    while pos < len(body):
        found = _MATCHER.match(body, pos)
        if not found:
            raise ValueError(f"{text!r}: cannot read the label matchers at {body[pos:]!r}; "
                             'write label="value", label=~"regex", label!="value" or label!~"regex"')
        matchers.append((found.group(1), found.group(2), found.group(3)))
        pos = found.end()
        if pos < len(body):
            if body[pos] != ",":
                raise ValueError(f"{text!r}: separate label matchers with commas")
            pos += 1
    return Selector(match.group(1), tuple(matchers))


def parse_prometheus(doc: _Doc, where: tuple[Any, ...], raw: Any, kind: str) -> PromConfig:
    """The `prometheus:` block of an rxsuite objective of `kind` (availability or latency)."""
    if kind not in _FIELDS:
        raise doc.error(where, f"Prometheus rules are generated for availability and latency objectives, not {kind}")
    if not isinstance(raw, dict):
        raise doc.error(where, "must be a mapping; see docs/monitoring.md")
    for key in raw:
        if key not in _FIELDS[kind]:
            raise doc.error((*where, key), f"unknown field; allowed here: {', '.join(_FIELDS[kind])}")
    fields: dict[str, Any] = {"where": ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in where)
                              .replace(".[", "["), "line": doc.line(where)}
    for name in ("total", "bad", "good", "histogram"):
        if name in raw:
            fields[name] = _at(doc, (*where, name), parse_selector, raw[name])
    if kind == "availability":
        if "total" not in fields or ("bad" in fields) == ("good" in fields):
            raise doc.error(where, "an availability objective names `total` and exactly one of `bad` or `good` "
                                   'selectors, e.g. total: http_requests_total{job="rx-app"}')
    else:
        histogram = fields.get("histogram")
        if histogram is None or "buckets" not in raw:
            raise doc.error(where, "a latency objective names `histogram` (the metric without _bucket) and the "
                                   "`buckets` it has, e.g. buckets: [0.1, 0.5, 1, 3, 5]")
        fields["buckets"] = _at(doc, (*where, "buckets"), _buckets, raw["buckets"])
    if "by" in raw:
        fields["by"] = _at(doc, (*where, "by"), _labels, raw["by"])
    if "period" in raw:
        fields["period_s"] = _at(doc, (*where, "period"), _duration, raw["period"])
    if "min_events" in raw:
        fields["min_events"] = _at(doc, (*where, "min_events"), _min_events, raw["min_events"])
    for name in ("runbook_url", "alert_name"):
        if name in raw:
            fields[name] = _at(doc, (*where, name), _text if name == "runbook_url" else _alert_name, raw[name])
    if "alerts" in raw:
        fields["alerts"] = _alerts(doc, (*where, "alerts"), raw["alerts"])
    return PromConfig(**fields)


def _alerts(doc: _Doc, where: tuple[Any, ...], raw: Any) -> tuple[AlertWindow, ...]:
    if not isinstance(raw, list) or not raw:
        raise doc.error(where, "must be a non-empty list of {severity: page, long: 1h, short: 5m, factor: 14.4}")
    out = []
    for i, item in enumerate(raw):
        at = (*where, i)
        if not isinstance(item, dict):
            raise doc.error(at, "must be a mapping {severity: page, long: 1h, short: 5m, factor: 14.4, for: 0s}")
        for key in item:
            if key not in ("severity", "long", "short", "factor", "for"):
                raise doc.error((*at, key), "unknown field; allowed here: severity, long, short, factor, for")
        for key in ("severity", "long", "short", "factor"):
            if item.get(key) is None:
                raise doc.error(at, f"field `{key}` is required")
        severity = item["severity"]
        if severity not in SEVERITIES:
            raise doc.error((*at, "severity"), f"{severity!r} is not allowed; allowed: {', '.join(SEVERITIES)}")
        long_s = _at(doc, (*at, "long"), _duration, item["long"])
        short_s = _at(doc, (*at, "short"), _duration, item["short"])
        if short_s >= long_s:
            raise doc.error((*at, "short"), "the short window must be shorter than the long one")
        factor = item["factor"]
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise doc.error((*at, "factor"), f"{factor!r} must be a number > 0 (the burn rate, e.g. 14.4)")
        for_s = _at(doc, (*at, "for"), _duration_or_zero, item.get("for", "0s"))
        out.append(AlertWindow(severity, long_s, short_s, float(factor), for_s))
    return tuple(out)


def _at(doc: _Doc, where: tuple[Any, ...], check: Any, value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise doc.error(where, str(exc)) from None


def _duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero; write {DURATION_ALLOWED}")
    return seconds


def _duration_or_zero(value: Any) -> float:
    return 0.0 if value in ("0", "0s") else _duration(value)


def _buckets(value: Any) -> tuple[float, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"{value!r} must be a list of the histogram's bucket boundaries in seconds (numbers > 0)")
    return tuple(sorted(float(v) for v in value))


def _labels(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and re.fullmatch(_LABEL, v) and v != "le" for v in value)):
        raise ValueError(f"{value!r} must be a label name or a list of label names (e.g. [route])")
    return tuple(value)


def _min_events(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{value!r} must be a number >= 0 (events in the long window below which no alert fires)")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} must be a non-empty string")
    return value


def _alert_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", value):
        raise ValueError(f"{value!r} must be a Prometheus alert name (letters, digits, _), e.g. RxAvailability")
    return value
