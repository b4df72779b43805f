"""SLO specs: the shipped default, errors that point into the file, OpenSLO mapping, parser properties."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxcore.validation import MAX_DURATION_S
from slo.durations import format_duration, parse_duration
from slo.spec import SpecError, load_spec, parse_percent, parse_percentile

_BASE = """\
format: rxsuite-slo/1
name: t
objectives:
  - name: availability
    kind: availability
    objective: 99.9%
  - name: p95
    kind: latency
    percentile: 95
    threshold: 3s
"""


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_default_spec_holds_the_contract_targets() -> None:
    spec = load_spec()
    by_name = {o.name: o for o in spec.objectives}
    assert by_name["availability"].target == 0.999
    assert (by_name["latency-p95"].percentile, by_name["latency-p95"].threshold) == (95, 3.0)
    assert by_name["latency-p95-per-request"].per_request
    assert {o.vital: o.threshold for o in spec.objectives if o.kind == "web_vital"} == {
        "lcp": 2.5, "inp": 0.2, "cls": 0.1, "ttfb": 0.8, "fcp": 1.8}
    assert {o.kind for o in spec.objectives} >= {"journey_step", "page_load", "rto", "rpo"}
    assert [(w.long_s, w.short_s, w.factor) for w in spec.burn_windows] == [
        (3600, 300, 14.4), (21600, 1800, 6.0), (259200, 21600, 1.0)]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("objective: 99.9%", "objective: 100%", r"spec.yaml:6: objectives\[0\].objective: '100%' is outside \(0, 100\)"),
    ("objective: 99.9%", "objective: 100.5", r":6: objectives\[0\].objective: 100.5 is outside \(0, 100\)"),
    ("percentile: 95", "percentile: 100", r":9: objectives\[1\].percentile: 100 is outside \(0, 100\)"),
    ("percentile: 95", "percentile: 0", r":9: objectives\[1\].percentile: 0 is outside \(0, 100\)"),
    ("threshold: 3s", "threshold: 3 seconds", r":10: objectives\[1\].threshold: '3 seconds' is not a duration; "
                                              r"write a number with a unit"),
    ("threshold: 3s", "threshold: 3", r":10: objectives\[1\].threshold: 3 is not a duration"),
    ("kind: latency", "kind: latancy", r":8: objectives\[1\].kind: 'latancy' is not allowed; allowed: availability"),
    ("percentile: 95", "percentil: 95", r":9: objectives\[1\].percentil: unknown field; allowed here: name, kind"),
])
def test_bad_fields_are_named_with_their_line_and_what_is_allowed(tmp_path: Path, old: str, new: str,
                                                                  message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(_spec(tmp_path, _BASE.replace(old, new)))


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r":7: objectives\[1\]: field `threshold` is required"):
        load_spec(_spec(tmp_path, _BASE.replace("    threshold: 3s\n", "")))


def test_duplicate_objective_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="used twice"):
        load_spec(_spec(tmp_path, _BASE.replace("name: p95", "name: availability")))


def test_the_rate_limited_choice_sets_what_counts(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, _BASE.replace("name: t\n", "name: t\nrate_limited: bad\n")))
    assert "http_429" in spec.objectives[0].valid_outcomes
    assert "http_429" not in spec.objectives[0].good_outcomes


def test_openslo_documents_map_onto_the_same_model(tmp_path: Path) -> None:
    path = _spec(tmp_path, """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api-availability}
        spec:
          service: rx
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: good}
            spec:
              ratioMetric:
                good: {metricSource: {type: rxsuite, spec: {outcomes: [ok]}}}
                total: {metricSource: {type: rxsuite, spec: {outcomes: [ok, http_5xx, timeout]}}}
          objectives: [{target: 0.999}]
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api-latency}
        spec:
          service: rx
          indicator:
            metadata: {name: latency}
            spec:
              thresholdMetric: {metricSource: {type: rxsuite, spec: {metric: latency, requests: "GET /a"}}}
          objectives: [{op: lte, value: 2.5, targetPercent: 99}]
        """)
    availability, latency = load_spec(path).objectives
    assert (availability.kind, availability.target, availability.valid_outcomes) == (
        "availability", 0.999, ("ok", "http_5xx", "timeout"))
    assert (latency.kind, latency.percentile, latency.threshold, latency.op, latency.requests) == (
        "latency", 99.0, 2.5, "lte", ("GET /a",))


def test_the_shipped_openslo_example_loads() -> None:
    spec = load_spec(Path(__file__).parent.parent / "slo" / "specs" / "openslo-example.yaml")
    assert [(o.name, o.kind, o.budgeting, o.target) for o in spec.objectives] == [
        ("availability", "availability", "occurrences", 0.999),
        ("latency-p95", "latency", "occurrences", 0.95),
        ("good-minutes", "availability", "timeslices", 0.99),
    ]


def test_openslo_other_metric_sources_are_refused_with_the_allowed_one(tmp_path: Path) -> None:
    path = _spec(tmp_path, """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: x}
        spec:
          indicator:
            metadata: {name: x}
            spec:
              thresholdMetric:
                metricSource:
                  type: Datadog
                  spec: {query: up}
          objectives: [{op: lt, value: 1, target: 0.9}]
        """)
    with pytest.raises(SpecError, match=r":10: spec.indicator.spec.thresholdMetric.metricSource.type: "
                                        r"'Datadog' is not readable from a run folder; allowed: rxsuite"):
        load_spec(path)


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(_UNITS))), min_size=1, max_size=4))
def test_durations_sum_their_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    total = sum(n * _UNITS[unit] for n, unit in parts)
    if total <= MAX_DURATION_S:
        assert parse_duration(text) == pytest.approx(total)
    else:
        with pytest.raises(ValueError, match="longer than 400 days"):
            parse_duration(text)


def test_a_duration_of_hundreds_of_digits_is_refused_not_infinite() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("9" * 400 + "s")


@given(st.integers(1, 10**7))
def test_formatted_durations_parse_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.text(max_size=12))
def test_any_text_either_parses_or_says_what_is_allowed(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ValueError as exc:
        assert "unit" in str(exc)


@given(st.floats(1, 99.999, allow_nan=False))
def test_percent_objectives_inside_the_range_parse(value: float) -> None:
    assert parse_percent(value) == pytest.approx(value / 100)
    assert parse_percent(f"{value}%") == pytest.approx(value / 100)


@given(st.one_of(st.floats(100, 1e9), st.floats(-1e9, 0)))
def test_percent_objectives_outside_the_range_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        parse_percent(value)


@given(st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=6)))
def test_percentiles_parse_only_strictly_between_0_and_100(value: object) -> None:
    try:
        parsed = parse_percentile(value)
    except ValueError:
        return
    assert 0 < parsed < 100
