"""`rxsuite slo rules`: generated Prometheus rules pass promtool, and their promtool test cases tell right from wrong.

Ground truths: the SRE workbook's table (windows, factors, thresholds = factor x budget), the burn onset solved by
hand for a known synthetic series, and promtool itself (check rules; test rules on a rule file broken on purpose).
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rxsuite.cli import main
from slo.evaluate import evaluate_run
from slo.promconfig import parse_selector
from slo.rules import RulesError, check_rules, generate, le_matcher, write_rules
from slo.rules_cases import build_cases, run_cases
from slo.spec import DEFAULT_SPEC, SpecError, load_spec
from tests.report_inputs import load_run

OPENSLO = DEFAULT_SPEC.parent / "openslo-prometheus.yaml"
AVAILABILITY = """\
    format: rxsuite-slo/1
    name: small
    objectives:
      - name: availability
        kind: availability
        objective: 99.9%
        prometheus:
          total: http_requests_total{job="rx-app",code!~"4.."}
          bad: http_requests_total{job="rx-app",code=~"5.."}
          min_events: MIN
    """


def _spec_file(tmp_path: Path, text: str, min_events: int = 100) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).replace("MIN", str(min_events)))
    return path


def _rules(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for g in doc["groups"] for r in g["rules"] if kind in r]


def _case(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in document["tests"] if t["name"] == name)


def _minutes(text: str) -> float:
    units = {"ms": 1 / 60000, "s": 1 / 60, "m": 1, "h": 60, "d": 1440}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", text))


def _firing(case: dict[str, Any], alertname: str, long: str) -> list[tuple[float, bool]]:
    """(minute, whether the alert with this long window is expected firing) at each check of the case."""
    return [(_minutes(t["eval_time"]), any(a["exp_labels"]["long"] == long for a in t["exp_alerts"]))
            for t in case["alert_rule_test"] if t["alertname"] == alertname]


def test_default_spec_rules_pass_promtool_check(tmp_path: Path) -> None:
    rules = generate(load_spec())
    path = write_rules(rules, tmp_path)
    assert "SUCCESS: 33 rules found" in check_rules(path)
    assert [r.objective.name for r in rules.objectives] == ["availability", "latency-p95", "latency-p95-per-request"]
    assert ("rto", "rto objectives have no Prometheus rules") in rules.skipped


def test_openslo_file_rules_pass_promtool_check(tmp_path: Path) -> None:
    rules = generate(load_spec(OPENSLO))
    path = write_rules(rules, tmp_path)
    assert "SUCCESS: 22 rules found" in check_rules(path)
    alerts = _rules(yaml.safe_load(path.read_text()), "alert")
    assert {a["annotations"]["budget"] for a in alerts} == {"0.1% of events over 28d (99.9% objective)",
                                                           "5% of events over 28d (95% objective)"}


def test_openslo_prometheus_objectives_are_not_applicable_to_run_folders(tmp_path: Path) -> None:
    run = load_run(tmp_path, datetime(2026, 11, 2, 10, tzinfo=UTC), seconds=5)
    results = evaluate_run(run, OPENSLO).objectives
    assert [(r.name, r.verdict) for r in results] == [("availability", "not-applicable"),
                                                      ("latency-p95", "not-applicable")]


def test_alerts_follow_the_workbook_table_with_threshold_factor_times_budget() -> None:
    doc = yaml.safe_load(generate(load_spec()).text())
    alerts = [a for a in _rules(doc, "alert") if a["labels"]["objective"] == "99.9"]
    assert [(a["alert"], a["labels"]["severity"], a["labels"]["long"], a["labels"]["short"]) for a in alerts] == [
        ("RxAvailabilityPage", "page", "1h", "5m"), ("RxAvailabilityPage", "page", "6h", "30m"),
        ("RxAvailabilityTicket", "ticket", "3d", "6h")]
    assert [re.findall(r"> ([\d.]+)", a["expr"]) for a in alerts] == [["0.0144"] * 2, ["0.006"] * 2, ["0.001"] * 2]
    assert all(a["expr"].endswith(f"rxsuite_slo:events:increase{a['labels']['long']}"
                                  '{spec="default",slo="availability"} >= 100') for a in alerts)
    assert alerts[0]["annotations"]["runbook_url"] == "https://runbooks.example.org/rx/slo/availability"
    assert "2% of the 30d error budget goes in 1h" in alerts[0]["annotations"]["description"]


def test_error_ratio_reads_the_specs_selectors() -> None:
    doc = yaml.safe_load(generate(load_spec()).text())
    records = {r["record"]: r["expr"] for r in _rules(doc, "record") if r["labels"]["slo"] == "availability"}
    assert records["rxsuite_slo:error_ratio:rate5m"] == (
        'sum(rate(http_requests_total{job="rx-app",code=~"5.."}[5m]))\n/\n'
        'sum(rate(http_requests_total{job="rx-app",code!~"4.."}[5m]))')
    latency = {r["record"]: r["expr"] for r in _rules(doc, "record") if r["labels"]["slo"] == "latency-p95"}
    assert 'http_request_duration_seconds_bucket{job="rx-app",code!~"5..",le=~"3(\\\\.0)?"}[1h]' in \
        latency["rxsuite_slo:error_ratio:rate1h"]


def test_time_scale_divides_windows_and_keeps_thresholds() -> None:
    doc = yaml.safe_load(generate(load_spec(), time_scale=60).text())
    group = doc["groups"][0]
    assert group["interval"] == "1s"
    assert [r["record"] for r in group["rules"] if "record" in r][:5] == [
        f"rxsuite_slo:error_ratio:rate{w}" for w in ("5s", "30s", "1m", "6m", "72m")]
    page = next(r for r in group["rules"] if r.get("alert") == "RxAvailabilityPage")
    assert "> 0.0144" in page["expr"] and (page["labels"]["long"], page["labels"]["short"]) == ("1m", "5s")


def test_threshold_without_a_bucket_boundary_is_refused(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, """\
        format: rxsuite-slo/1
        objectives:
          - name: slow
            kind: latency
            percentile: 95
            threshold: 3s
            prometheus:
              histogram: http_request_duration_seconds
              buckets: [0.5, 1, 2.5, 5]
        """)
    with pytest.raises(RulesError, match=r"spec.yaml:7: objectives\[0\].prometheus: no bucket boundary equals the "
                                         r"threshold 3s \(buckets: 0.5, 1, 2.5, 5\)"):
        generate(load_spec(path))


def test_availability_without_bad_or_good_is_refused_at_its_line(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, AVAILABILITY.replace('          bad: http_requests_total{job="rx-app",code=~"5.."}\n',
                                                     ""))
    with pytest.raises(SpecError, match=r"spec.yaml:7: objectives\[0\].prometheus: an availability objective names "
                                        r"`total` and exactly one of `bad` or `good`"):
        load_spec(path)


def test_a_whole_query_instead_of_a_selector_is_refused(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, AVAILABILITY.replace('bad: http_requests_total{job="rx-app",code=~"5.."}',
                                                     "bad: sum(rate(errors_total[5m]))"))
    with pytest.raises(SpecError, match=r"spec.yaml:9: objectives\[0\].prometheus.bad: .* is not a series selector"):
        load_spec(path)


@pytest.mark.parametrize("text", ['http_requests_total', 'up{job="a",code=~"5..|429",path!="/q\\"x\\""}',
                                  'rx:ratio{le!~"\\\\d+"}'])
def test_selectors_read_back_as_written(text: str) -> None:
    assert parse_selector(text).promql() == text


@pytest.mark.parametrize("text", ["sum(up)", 'up{job="a"', "up{job=a}", 'up{job="a" code="b"}', "5xx"])
def test_anything_but_a_selector_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"selector|label matchers|commas"):
        parse_selector(text)


def test_spec_without_prometheus_metrics_exits_2_with_one_line(tmp_path: Path, capsys: Any) -> None:
    path = _spec_file(tmp_path, "format: rxsuite-slo/1\nobjectives: [{name: a, kind: availability, objective: 99}]\n")
    assert main(["slo", "rules", "--spec", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no objective names its Prometheus metrics" in err


def test_fast_burn_pages_when_the_hand_solved_onset_says(tmp_path: Path) -> None:
    """Clean 6h at 0.05 % errors, then 2.88 %: the 1h ratio crosses 1.44 % after 29.5 min, the 6h one 0.6 % after 70."""
    document = build_cases(generate(load_spec(_spec_file(tmp_path, AVAILABILITY))), tmp_path / "r.yml")
    case = _case(document, "availability: fast burn")
    for long, onset in (("1h", 360 + (0.0144 * 60 - 0.0005 * 60) / (0.0288 - 0.0005)),
                        ("6h", 360 + (0.006 * 360 - 0.0005 * 360) / (0.0288 - 0.0005))):
        checks = _firing(case, "RxAvailabilityPage", long)
        assert max(m for m, on in checks if not on) < onset < min(m for m, on in checks if on)
        assert all(on for m, on in checks if m > onset)


def test_the_latency_bucket_matcher_takes_go_and_python_boundaries() -> None:
    label, op, value = le_matcher(3.0)
    regex = value.replace("\\\\", "\\")  # PromQL string -> regular expression
    assert (label, op) == ("le", "=~")
    assert [bool(re.fullmatch(regex, le)) for le in ("3", "3.0", "30", "0.3")] == [True, True, False, False]
    assert le_matcher(2.5) == ("le", "=", "2.5")


def test_for_delays_the_page_by_its_duration(tmp_path: Path) -> None:
    page = "{severity: page, long: 1h, short: 5m, factor: 14.4, for: 10m}"
    text = AVAILABILITY.rstrip(" ") + f"          alerts: [{page}]\n"
    rules = generate(load_spec(_spec_file(tmp_path, text)))
    path = write_rules(rules, tmp_path)
    case = _case(build_cases(rules, path), "availability: fast burn")
    onset = 60 + (0.0144 * 60 - 0.0005 * 60) / (0.0288 - 0.0005) + 10  # the clean prefix is the 1h window
    checks = _firing(case, "RxAvailabilityPage", "1h")
    assert max(m for m, on in checks if not on) < onset < min(m for m, on in checks if on)
    run = run_cases(rules, path, tmp_path)
    assert run.passed, run.output


@pytest.mark.slow
def test_generated_cases_pass_promtool_for_the_default_spec(tmp_path: Path, capsys: Any) -> None:
    assert main(["slo", "rules", "--out", str(tmp_path), "--test"]) == 0
    out = capsys.readouterr().out
    assert "12 cases" in out and "passed" in out
    assert "availability: fast burn: " in out and "RxAvailabilityPage 1h/5m silent at 385m, firing at 395m" in out
    names = [t["name"] for t in yaml.safe_load((tmp_path / "default.rules.test.yml").read_text())["tests"]]
    assert names[:4] == ["availability: clean", "availability: fast burn", "availability: slow burn",
                         "availability: low traffic"]


def test_generated_cases_pass_promtool_for_the_openslo_file(tmp_path: Path) -> None:
    rules = generate(load_spec(OPENSLO), time_scale=60)
    run = run_cases(rules, write_rules(rules, tmp_path), tmp_path)
    assert run.passed, run.output
    assert len(run.checks) == 8


def test_a_rule_file_reading_the_wrong_metric_fails_its_promtool_test(tmp_path: Path) -> None:
    rules = generate(load_spec(_spec_file(tmp_path, AVAILABILITY)), time_scale=60)
    path = write_rules(rules, tmp_path)
    assert run_cases(rules, path, tmp_path).passed
    path.write_text(path.read_text().replace("http_requests_total{", "http_request_total{"))
    check_rules(path)  # still a valid rule file: only its test can tell
    run = run_cases(rules, path, tmp_path)
    assert not run.passed
    assert "FAILED" in run.output and "RxAvailabilityPage" in run.output


def test_a_good_selector_gets_series_on_both_sides_of_it_and_its_cases_pass(tmp_path: Path) -> None:
    text = AVAILABILITY.replace('bad: http_requests_total{job="rx-app",code=~"5.."}',
                                'good: http_requests_total{job="rx-app",code=~"2..|3.."}')
    rules = generate(load_spec(_spec_file(tmp_path, text)), time_scale=60)
    path = write_rules(rules, tmp_path)
    series = [s["series"] for s in build_cases(rules, path)["tests"][0]["input_series"]]
    assert series == ['http_requests_total{job="rx-app",code="200"}', 'http_requests_total{job="rx-app",code="500"}']
    run = run_cases(rules, path, tmp_path)
    assert run.passed, run.output


@pytest.mark.parametrize(("min_events", "pages"), [(100, False), (0, True)])
def test_the_low_traffic_guard_is_what_keeps_a_handful_of_failures_silent(tmp_path: Path, min_events: int,
                                                                           pages: bool) -> None:
    rules = generate(load_spec(_spec_file(tmp_path, AVAILABILITY, min_events)), time_scale=60)
    path = write_rules(rules, tmp_path)
    low = _case(build_cases(rules, path), "availability: low traffic")
    assert any(t["exp_alerts"] for t in low["alert_rule_test"] if t["alertname"] == "RxAvailabilityPage") is pages
    run = run_cases(rules, path, tmp_path)
    assert run.passed, run.output


def test_generated_cases_pass_promtool_for_the_edge_spec_with_its_one_page(tmp_path: Path) -> None:
    """slo/specs/edge.yaml, the sandbox's edge availability: one fast-burn page, whose cases promtool passes."""
    rules = generate(load_spec(Path(__file__).resolve().parent.parent / "slo" / "specs" / "edge.yaml"), time_scale=60)
    run = run_cases(rules, write_rules(rules, tmp_path), tmp_path)
    assert run.passed, run.output
    alerts = _rules(yaml.safe_load((tmp_path / "edge.rules.yml").read_text()), "alert")
    assert [(a["alert"], a["labels"]["long"], a["labels"]["short"]) for a in alerts] == [
        ("RxEdgeAvailabilityPage", "1m", "5s")]
