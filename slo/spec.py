"""SLO specs: the model every evaluation runs on, and the loader for rxsuite's own YAML format.

Errors name the file, the line, the field and what is allowed, because specs are edited by hand and a
silently ignored typo would turn into a wrong verdict. OpenSLO documents map onto the same model (slo.openslo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rxcore import validation
from rxcore.errors import ConfigError, one_line
from rxcore.yamlfile import field_name, read_yaml_all
from slo.durations import ALLOWED as DURATION_ALLOWED
from slo.durations import parse_duration
from slo.promconfig import PromConfig, parse_prometheus
from slo.records import OUTCOMES

FORMAT = "rxsuite-slo/1"
DEFAULT_SPEC = Path(__file__).parent / "specs" / "default.yaml"
KINDS = ("availability", "latency", "journey_step", "page_load", "web_vital", "rto", "rpo")
VITALS = ("lcp", "inp", "cls", "ttfb", "fcp")
OPS = ("lt", "lte")
RATE_LIMITED = ("exclude", "good", "bad")
BUDGETING = ("occurrences", "timeslices", "ratio_timeslices")
BAD_OUTCOMES = ("http_5xx", "timeout", "connection_error")


class SpecError(ValueError):
    """A spec that cannot be used: says where (file:line), which field, and what is allowed."""

    def __init__(self, path: Path | str | None, line: int | None, field_path: str, message: str) -> None:
        where = f"{path or '<spec>'}" + (f":{line}" if line else "")
        super().__init__(one_line(f"{where}: {field_path}: {message}"))
        self.path, self.line, self.field, self.detail = path, line, field_path, message


@dataclass(frozen=True, slots=True)
class BurnWindow:
    long_s: float
    short_s: float
    factor: float


DEFAULT_BURN_WINDOWS = (BurnWindow(3600, 300, 14.4), BurnWindow(21600, 1800, 6.0), BurnWindow(259200, 21600, 1.0))


@dataclass(frozen=True, slots=True)
class Objective:
    """One objective. `target` is the required share of good events (or good slices): 0.999, or 0.95 for p95."""

    name: str
    kind: str
    target: float = 0.0
    percentile: float | None = None
    threshold: float | None = None  # seconds; unitless for the CLS web vital
    op: str = "lt"
    requests: tuple[str, ...] | None = None  # request names or glob patterns; None: every request
    per_request: bool = False
    required: bool = True
    headline: bool = False  # a release decision rests on it (the spec's promises: availability, overall p95)
    vital: str | None = None
    good_outcomes: tuple[str, ...] = ("ok",)
    valid_outcomes: tuple[str, ...] = ("ok", *BAD_OUTCOMES)
    budgeting: str = "occurrences"
    slice_s: float | None = None
    slice_target: float | None = None  # timeslices: share of good events a slice needs (ratio objectives)
    max_lost_writes: int | None = None
    description: str = ""
    line: int | None = None
    requests_line: int | None = None
    prometheus: PromConfig | None = None  # metrics and alerts for `rxsuite slo rules` (slo.promconfig)


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    objectives: tuple[Objective, ...]
    path: Path | None = None
    confidence: float = 0.95
    rate_limited: str = "exclude"
    series_step_s: float = 60.0
    burn_windows: tuple[BurnWindow, ...] = DEFAULT_BURN_WINDOWS
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headline_names(self) -> tuple[str, ...]:
        """The objectives a release decision rests on: those marked `headline: true`, else every overall
        availability and latency objective (no request filter, not per request)."""
        marked = tuple(o.name for o in self.objectives if o.headline)
        return marked or tuple(o.name for o in self.objectives if o.kind in ("availability", "latency")
                               and o.requests is None and not o.per_request)


class YamlDoc:
    """A parsed YAML document plus the line of every node, so errors can point into the file."""

    def __init__(self, path: Path | None, data: Any, lines: dict[tuple[Any, ...], int]) -> None:
        self.path, self.data, self._lines = path, data, lines

    def line(self, where: tuple[Any, ...]) -> int | None:
        while where not in self._lines and where:
            where = where[:-1]
        return self._lines.get(where)

    def error(self, where: tuple[Any, ...], message: str) -> SpecError:
        return SpecError(self.path, self.line(where), _field_name(where), message)


def read_yaml_docs(path: Path) -> list[YamlDoc]:
    """The file's YAML documents, read by rxcore.yamlfile (UTF-8, no aliases, bounded size and depth)."""
    try:
        docs = [YamlDoc(Path(path), d.data, d.lines) for d in read_yaml_all(Path(path))]
    except ConfigError as exc:
        raise SpecError(path, exc.line, exc.field, f"{exc.problem} ({exc.fix})") from None
    if not docs or all(d.data is None for d in docs):
        raise SpecError(path, None, "file", "is empty; expected an rxsuite-slo/1 spec or OpenSLO SLO documents")
    return docs


def _field_name(where: tuple[Any, ...]) -> str:
    return "document" if not where else field_name(where)


def load_spec(path: Path | str | None = None) -> Spec:
    """Load an rxsuite spec or an OpenSLO file (detected by `apiVersion: openslo/v1`)."""
    path = Path(path) if path is not None else DEFAULT_SPEC
    docs = [d for d in read_yaml_docs(path) if d.data is not None]
    first = docs[0].data
    if isinstance(first, dict) and "apiVersion" in first:
        from slo.openslo import spec_from_openslo

        return spec_from_openslo(docs)
    if len(docs) > 1:
        raise docs[1].error((), "an rxsuite spec is a single YAML document (OpenSLO files may hold several)")
    return _spec_from_doc(docs[0])


# --- rxsuite's own format -----------------------------------------------------------------------------------

_TOP_FIELDS = ("format", "name", "description", "confidence", "rate_limited", "series_step", "burn_rate_windows",
               "objectives")
_COMMON = ("name", "kind", "description", "required", "headline")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "availability": (*_COMMON, "objective", "requests", "per_request", "budgeting", "slice", "slice_objective",
                     "prometheus"),
    "latency": (*_COMMON, "percentile", "threshold", "op", "requests", "per_request", "budgeting", "slice",
                "objective", "prometheus"),
    "journey_step": (*_COMMON, "percentile", "threshold", "op"),
    "page_load": (*_COMMON, "percentile", "threshold", "op"),
    "web_vital": (*_COMMON, "vital", "percentile", "threshold", "op"),
    "rto": (*_COMMON, "threshold"),
    "rpo": (*_COMMON, "threshold", "max_lost_writes"),
}


def _spec_from_doc(doc: YamlDoc) -> Spec:
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), f"must be a mapping with fields {', '.join(_TOP_FIELDS)}")
    _check_fields(doc, (), data, _TOP_FIELDS)
    if data.get("format") != FORMAT:
        raise doc.error(("format",), f"{data.get('format')!r} is not supported; write `format: {FORMAT}` "
                                     "(or give an OpenSLO document with `apiVersion: openslo/v1`)")
    confidence = _fraction_or_percent(doc, ("confidence",), data.get("confidence", 0.95))
    rate_limited = _choice(doc, ("rate_limited",), data.get("rate_limited", "exclude"), RATE_LIMITED)
    step = duration_field(doc, ("series_step",), data.get("series_step", "1m"))
    burn = _burn_windows(doc, data.get("burn_rate_windows"))
    if any(w.short_s < step for w in burn):
        raise doc.error(("series_step",), "must not be longer than the shortest burn-rate window (default 5m)")
    raw_objectives = data.get("objectives")
    if not isinstance(raw_objectives, list) or not raw_objectives:
        raise doc.error(("objectives",), "must be a non-empty list of objectives")
    objectives = [_objective(doc, ("objectives", i), raw, rate_limited) for i, raw in enumerate(raw_objectives)]
    check_unique_names(doc, objectives, [("objectives", i, "name") for i in range(len(objectives))])
    return Spec(
        name=_string(doc, ("name",), data.get("name", Path(doc.path or "spec").stem)),
        description=str(data.get("description", "")),
        objectives=tuple(objectives),
        path=doc.path,
        confidence=confidence,
        rate_limited=rate_limited,
        series_step_s=step,
        burn_windows=burn,
    )


def _objective(doc: YamlDoc, where: tuple[Any, ...], raw: Any, rate_limited: str) -> Objective:
    if not isinstance(raw, dict):
        raise doc.error(where, "each objective must be a mapping with at least `name` and `kind`")
    kind = _choice(doc, (*where, "kind"), raw.get("kind"), KINDS)
    _check_fields(doc, where, raw, _KIND_FIELDS[kind])
    get = raw.get
    common: dict[str, Any] = {
        "name": _string(doc, (*where, "name"), get("name")),
        "kind": kind,
        "description": str(get("description", "")),
        "required": _bool(doc, (*where, "required"), get("required", True)),
        "headline": _bool(doc, (*where, "headline"), get("headline", False)),
        "line": doc.line(where),
    }
    if "prometheus" in raw:
        common["prometheus"] = parse_prometheus(doc, (*where, "prometheus"), raw["prometheus"], kind)
    if kind in ("rto", "rpo"):
        lost = get("max_lost_writes")
        if lost is not None and (not isinstance(lost, int) or isinstance(lost, bool) or lost < 0):
            raise doc.error((*where, "max_lost_writes"), f"{lost!r} must be a whole number >= 0")
        return Objective(**common, threshold=duration_field(doc, (*where, "threshold"), _required(doc, where, raw,
                         "threshold")), op="lte", max_lost_writes=lost, target=1.0)
    if kind == "availability":
        good, valid = outcome_sets(rate_limited)
        budgeting, slice_s, target, slice_target = _budgeting(doc, where, raw, ratio=True)
        return Objective(**common, target=target, good_outcomes=good, valid_outcomes=valid, budgeting=budgeting,
                         slice_s=slice_s, slice_target=slice_target, **_request_fields(doc, where, raw))
    default_op = "lte" if kind == "web_vital" else "lt"
    percentile_raw = get("percentile", 75) if kind == "web_vital" else _required(doc, where, raw, "percentile")
    percentile = _percentile(doc, (*where, "percentile"), percentile_raw)
    vital = _choice(doc, (*where, "vital"), get("vital"), VITALS) if kind == "web_vital" else None
    threshold_raw = _required(doc, where, raw, "threshold")
    if vital == "cls":
        threshold = _positive_number(doc, (*where, "threshold"), threshold_raw)
    else:
        threshold = duration_field(doc, (*where, "threshold"), threshold_raw)
    fields: dict[str, Any] = {
        "percentile": percentile,
        "threshold": threshold,
        "op": _choice(doc, (*where, "op"), get("op", default_op), OPS),
        "vital": vital,
        "target": percentile / 100.0,
    }
    if kind == "latency":
        good, valid = outcome_sets(rate_limited)
        budgeting, slice_s, slice_target_pct, _ = _budgeting(doc, where, raw, ratio=False)
        if budgeting == "timeslices":
            fields["target"] = slice_target_pct
        fields |= {"budgeting": budgeting, "slice_s": slice_s, **_request_fields(doc, where, raw)}
    return Objective(**common, **fields)


def outcome_sets(rate_limited: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(good, valid) outcomes for availability; 4xx are test errors, never valid; 429 per the spec's choice."""
    good: tuple[str, ...] = ("ok", "http_429") if rate_limited == "good" else ("ok",)
    valid: tuple[str, ...] = ("ok", *BAD_OUTCOMES)
    if rate_limited != "exclude":
        valid = (*valid, "http_429")
    return good, valid


def _budgeting(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any], ratio: bool
               ) -> tuple[str, float | None, float, float | None]:
    """(budgeting, slice seconds, target share, slice target share) for availability / latency objectives."""
    budgeting = _choice(doc, (*where, "budgeting"), raw.get("budgeting", "occurrences"), BUDGETING)
    if budgeting == "occurrences":
        for name in ("slice", "slice_objective"):
            if name in raw:
                raise doc.error((*where, name), "only allowed with `budgeting: timeslices`")
        target = _percent(doc, (*where, "objective"), _required(doc, where, raw, "objective")) if ratio else 0.0
        if not ratio and "objective" in raw:
            raise doc.error((*where, "objective"), "a latency objective takes `objective` only with "
                                                   "`budgeting: timeslices` (the share of good slices)")
        return budgeting, None, target, None
    slice_s = duration_field(doc, (*where, "slice"), _required(doc, where, raw, "slice"))
    if slice_s % 60:
        raise doc.error((*where, "slice"), "timeslices must be whole minutes (e.g. 1m, 5m)")
    if budgeting == "ratio_timeslices":  # the mean of the slices' good shares against the objective
        if "slice_objective" in raw:
            raise doc.error((*where, "slice_objective"), "only allowed with `budgeting: timeslices`; "
                                                         "ratio_timeslices averages the slices' own ratios")
        if not ratio:
            if "objective" in raw:
                raise doc.error((*where, "objective"), "a latency objective with `budgeting: ratio_timeslices` "
                                                       "takes its target from `percentile`")
            return budgeting, slice_s, 0.0, None
        return budgeting, slice_s, _percent(doc, (*where, "objective"), _required(doc, where, raw, "objective")), None
    target = _percent(doc, (*where, "objective"), _required(doc, where, raw, "objective"))
    slice_target = (_percent(doc, (*where, "slice_objective"), _required(doc, where, raw, "slice_objective"))
                    if ratio else None)
    return budgeting, slice_s, target, slice_target


def _request_fields(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any]) -> dict[str, Any]:
    requests = raw.get("requests")
    if requests is not None and requests != "all":
        if isinstance(requests, str):
            requests = [requests]
        if not isinstance(requests, list) or not requests or not all(isinstance(r, str) and r for r in requests):
            raise doc.error((*where, "requests"), "must be `all`, a request name, or a list of request names "
                                                  "or glob patterns (e.g. 'GET /rest/v1/*')")
        requests = tuple(requests)
    else:
        requests = None
    return {
        "requests": requests,
        "per_request": _bool(doc, (*where, "per_request"), raw.get("per_request", False)),
        "requests_line": doc.line((*where, "requests")),
    }


def _burn_windows(doc: YamlDoc, raw: Any) -> tuple[BurnWindow, ...]:
    if raw is None:
        return DEFAULT_BURN_WINDOWS
    where: tuple[Any, ...] = ("burn_rate_windows",)
    if not isinstance(raw, list):
        raise doc.error(where, "must be a list of {long: 1h, short: 5m, factor: 14.4}")
    out = []
    for i, item in enumerate(raw):
        at = (*where, i)
        if not isinstance(item, dict):
            raise doc.error(at, "must be a mapping {long: 1h, short: 5m, factor: 14.4}")
        _check_fields(doc, at, item, ("long", "short", "factor"))
        long_s = duration_field(doc, (*at, "long"), _required(doc, at, item, "long"))
        short_s = duration_field(doc, (*at, "short"), _required(doc, at, item, "short"))
        if short_s >= long_s:
            raise doc.error((*at, "short"), "the short window must be shorter than the long one")
        out.append(BurnWindow(long_s, short_s, _positive_number(doc, (*at, "factor"), item.get("factor"))))
    return tuple(out)


# --- field helpers (shared with slo.openslo) ---------------------------------------------------------------

def _check_fields(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any], allowed: Sequence[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise doc.error((*where, key), f"unknown field; allowed here: {', '.join(allowed)}")


def _required(doc: YamlDoc, where: tuple[Any, ...], raw: dict[str, Any], key: str) -> Any:
    if raw.get(key) is None:
        raise doc.error((*where, key) if key in raw else where, f"field `{key}` is required")
    return raw[key]


def _checked(check: Callable[[Any], Any]) -> Callable[[YamlDoc, tuple[Any, ...], Any], Any]:
    def run(doc: YamlDoc, where: tuple[Any, ...], value: Any) -> Any:
        try:
            return check(value)
        except ValueError as exc:
            raise doc.error(where, str(exc)) from None
    return run


def _string_value(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} must be a non-empty string")
    return value


def _bool_value(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} must be true or false")
    return value


def _duration_value(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero; write {DURATION_ALLOWED}")
    return seconds


def _positive_number_value(value: Any) -> float:
    return validation.finite(value, high=1e12, above=0)


def parse_percent(value: Any) -> float:
    """'99.9%' or 99.9 -> 0.999; must lie strictly between 0 and 100 percent."""
    number = value
    if isinstance(value, str):
        text = value.strip().removesuffix("%")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write e.g. 99.9 or \"99.9%\"") from None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"{value!r} is not a percentage; write e.g. 99.9 or \"99.9%\"")
    if not 0 < number < 100:
        raise ValueError(f"{value!r} is outside (0, 100): an objective of 100% or more leaves no error budget; "
                         "write e.g. 99.9")
    if number < 1:
        raise ValueError(f"{value!r} looks like a fraction; objectives are percentages, e.g. 99.9 for 99.9%")
    return round(float(number) / 100.0, 12)


def parse_percentile(value: Any) -> float:
    """95, 99.9 or 'p95' -> 95.0; must lie strictly between 0 and 100."""
    number = value
    if isinstance(value, str) and value.strip().lower().startswith("p"):
        try:
            number = float(value.strip()[1:])
        except ValueError:
            number = value
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"{value!r} is not a percentile; write e.g. 95 or p95")
    if not 0 < number < 100:
        raise ValueError(f"{value!r} is outside (0, 100); write e.g. 95 or 99")
    return float(number)


def _fraction_or_percent_value(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.5 <= value < 1:
        return float(value)
    share = parse_percent(value)
    if share < 0.5:
        raise ValueError(f"{value!r} is too low for a confidence level; write e.g. 0.95 or 95%")
    return share


def _choice(doc: YamlDoc, where: tuple[Any, ...], value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise doc.error(where, f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
    return str(value)


def check_unique_names(doc: YamlDoc, objectives: Sequence[Objective], where: Sequence[tuple[Any, ...]]) -> None:
    seen: set[str] = set()
    for objective, at in zip(objectives, where, strict=True):
        if objective.name in seen:
            raise doc.error(at, f"objective name {objective.name!r} is used twice; names must be unique")
        seen.add(objective.name)


_string = _checked(_string_value)
_bool = _checked(_bool_value)
duration_field = _checked(_duration_value)
_positive_number = _checked(_positive_number_value)
_percent = _checked(parse_percent)
_percentile = _checked(parse_percentile)
_fraction_or_percent = _checked(_fraction_or_percent_value)

__all__ = ["OUTCOMES", "Objective", "Spec", "SpecError", "load_spec"]
