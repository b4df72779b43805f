"""Evaluation of run folders against specs, on data whose answers are counted by hand or computed directly."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from rxsuite.cli import main
from slo.evaluate import EvaluationError, evaluate_run, evaluate_runs, write_slo_json
from slo.histogram import Histogram
from slo.records import RecordWriter, WindowRecord
from slo.spec import SpecError, load_spec

T0 = 1_764_000_000.0  # a whole minute


def _write(run_dir: Path, windows: Sequence[tuple[float, str, np.ndarray | list[int], Mapping[str, int]]]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    with RecordWriter(run_dir) as writer:
        for start, name, latencies, errors in windows:
            hist = Histogram()
            hist.record_many(latencies)
            writer.write_window(WindowRecord(start=start, duration_s=1.0, name=name,
                                             outcomes={"ok": len(latencies), **errors}, histogram=hist))
    return run_dir


def _spec(tmp_path: Path, objectives: str, head: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text("format: rxsuite-slo/1\nname: t\n" + head + "objectives:\n" + textwrap.indent(
        textwrap.dedent(objectives), "  "))
    return path


_AVAILABILITY = """\
- {name: availability, kind: availability, objective: 99.9%}
"""
_LATENCY = """\
- {name: p95, kind: latency, percentile: 95, threshold: 3s}
- {name: p95-each, kind: latency, percentile: 95, threshold: 3s, per_request: true}
"""


def _hand_counted_run(run_dir: Path) -> Path:
    """10 windows x 2 names x 500 ok; 3 5xx, 2 timeouts, 1 connection error, 4 4xx and 5 429 in all."""
    errors = {0: {"http_5xx": 2, "http_4xx": 4}, 3: {"http_5xx": 1, "timeout": 2},
              7: {"connection_error": 1, "http_429": 5}}
    windows = []
    for w in range(10):
        for name in ("GET /a", "GET /b"):
            extra = errors.get(w, {}) if name == "GET /a" else {}
            windows.append((T0 + w, name, np.full(500, 10_000), extra))
    return _write(run_dir, windows)


def test_hand_counted_error_budget(tmp_path: Path) -> None:
    run = _hand_counted_run(tmp_path / "run")
    result = evaluate_run(run, _spec(tmp_path, _AVAILABILITY)).objectives[0]
    # valid = 10,000 ok + 3 + 2 + 1 bad (4xx are test errors, 429 excluded by default)
    assert result.samples == 10_006
    assert result.measured == pytest.approx(10_000 / 10_006)
    assert result.error_budget == pytest.approx({"allowed": 10.006, "consumed": 6, "remaining": 4.006,
                                                 "consumed_share": 6 / 10.006, "unit": "requests"})
    assert (result.details["test_errors_4xx"], result.details["rate_limited_429"]) == (4, 5)


def test_counting_429_as_bad_follows_the_spec(tmp_path: Path) -> None:
    run = _hand_counted_run(tmp_path / "run")
    spec = _spec(tmp_path, _AVAILABILITY, head="rate_limited: bad\n")
    result = evaluate_run(run, spec).objectives[0]
    assert (result.samples, result.error_budget["consumed"]) == (10_011, 11)  # type: ignore[index]


def test_availability_bounds_are_the_exact_binomial_ones(tmp_path: Path) -> None:
    run = _hand_counted_run(tmp_path / "run")
    result = evaluate_run(run, _spec(tmp_path, _AVAILABILITY)).objectives[0]
    n, good = 10_006, 10_000
    lower = result.ci["lower"]  # type: ignore[index]
    # at the lower bound, seeing >= 10,000 successes has probability 5% (summed directly in log space)
    tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                        + i * math.log(lower) + (n - i) * math.log1p(-lower)) for i in range(good, n + 1))
    assert tail == pytest.approx(0.05, rel=1e-6)
    # 6 failures in 10,006 can neither show nor refute 99.9%
    assert result.verdict == "insufficient-data"
    assert result.ci["lower"] < 0.999 < result.ci["upper"]  # type: ignore[index]


def test_no_failure_in_100_requests_needs_2895_more(tmp_path: Path) -> None:
    run = _write(tmp_path / "run", [(T0, "GET /a", np.full(100, 5_000), {})])
    evaluation = evaluate_run(run, _spec(tmp_path, _AVAILABILITY))
    result = evaluation.objectives[0]
    assert result.verdict == "insufficient-data"
    assert (result.sufficiency["needed"], result.sufficiency["more"]) == (2995, 2895)  # type: ignore[index]
    assert evaluation.exit_code == 3


def test_enough_good_requests_pass_and_many_failures_fail(tmp_path: Path) -> None:
    good = _write(tmp_path / "good", [(T0 + i, "GET /a", np.full(1000, 5_000), {}) for i in range(5)])
    bad = _write(tmp_path / "bad", [(T0 + i, "GET /a", np.full(1000, 5_000), {"http_5xx": 20}) for i in range(5)])
    spec = _spec(tmp_path, _AVAILABILITY)
    assert (evaluate_run(good, spec).verdict, evaluate_run(good, spec).exit_code) == ("pass", 0)
    assert (evaluate_run(bad, spec).verdict, evaluate_run(bad, spec).exit_code) == ("fail", 1)


def test_latency_percentiles_match_the_exact_ones_of_the_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    samples = {name: np.rint(rng.lognormal(np.log(m), 0.8, 30_000)) for name, m in (("GET /a", 2e5), ("GET /b", 9e5))}
    windows: list[tuple[float, str, np.ndarray, dict[str, int]]] = [
        (T0 + w, name, values[w * 1000:(w + 1) * 1000], {}) for w in range(30) for name, values in samples.items()]
    run = _write(tmp_path / "run", windows)
    results = {o.name: o for o in evaluate_run(run, _spec(tmp_path, _LATENCY)).objectives}

    def exact(values: np.ndarray) -> float:
        ordered = np.sort(values)
        return float(ordered[math.ceil(0.95 * len(ordered)) - 1]) / 1e6

    everything = np.concatenate(list(samples.values()))
    assert results["p95"].measured == pytest.approx(exact(everything), rel=1e-3)
    for name, values in samples.items():
        result = results[f"p95-each[{name}]"]
        assert result.measured == pytest.approx(exact(values), rel=1e-3)
        assert result.ci["lower"] <= exact(values) * 1.001  # type: ignore[index]
        assert result.ci["upper"] >= exact(values) * 0.999  # type: ignore[index]
    assert results["p95"].error_budget["consumed"] == int((everything >= 3e6).sum())  # type: ignore[index]


def test_per_minute_series_sum_the_windows_of_each_minute(tmp_path: Path) -> None:
    windows = [(T0 + s, "GET /a", np.full(10, 1_000), {"http_5xx": 1 if s >= 60 else 0}) for s in range(150)]
    run = _write(tmp_path / "run", windows)
    series = evaluate_run(run, _spec(tmp_path, _AVAILABILITY)).objectives[0].series
    assert series["t"] == [T0, T0 + 60, T0 + 120]  # type: ignore[index]
    assert series["valid"] == [600, 660, 330]  # type: ignore[index]
    assert series["bad"] == [0, 60, 30]  # type: ignore[index]


def test_fast_burn_fires_only_where_the_data_spans_the_windows(tmp_path: Path) -> None:
    windows = []
    for s in range(0, 7200, 10):  # two hours; the last ten minutes fail 5% of requests
        errors = {"http_5xx": 5} if s >= 6600 else {}
        windows.append((T0 + s, "GET /a", np.full(100 - errors.get("http_5xx", 0), 1_000), errors))
    run = _write(tmp_path / "run", windows)
    burn = {b["long"]: b for b in evaluate_run(run, _spec(tmp_path, _AVAILABILITY)).objectives[0].burn_rates}
    # last hour: 60 windows x 5 bad / 36,000 valid = 0.833% -> 8.3x; last 5 minutes: 5% -> 50x
    assert burn["1h"]["long_rate"] == pytest.approx(300 / 36_000 / 0.001)
    assert burn["1h"]["short_rate"] == pytest.approx(50.0)
    assert (burn["1h"]["fired"], burn["1h"]["firing_at_end"]) == (False, False)  # 8.3 < 14.4
    assert burn["6h"]["evaluated"] is False


def test_a_period_merges_its_runs(tmp_path: Path) -> None:
    one = _write(tmp_path / "one", [(T0, "GET /a", np.full(100, 1_000), {"timeout": 1})])
    two = _write(tmp_path / "two", [(T0 + 86_400, "GET /a", np.full(300, 1_000), {"http_5xx": 2})])
    result = evaluate_runs([one, two], _spec(tmp_path, _AVAILABILITY)).objectives[0]
    assert (result.samples, result.error_budget["consumed"]) == (403, 3)  # type: ignore[index]


def test_timeslices_count_good_minutes(tmp_path: Path) -> None:
    windows = [(T0 + s, "GET /a", np.full(100, 1_000), {"http_5xx": 5 if 120 <= s < 180 else 0})
               for s in range(0, 600, 5)]
    run = _write(tmp_path / "run", windows)
    spec = _spec(tmp_path, "- {name: minutes, kind: availability, budgeting: timeslices, slice: 1m,\n"
                           "   slice_objective: 99%, objective: 95%}\n")
    result = evaluate_run(run, spec).objectives[0]
    assert (result.samples, result.measured) == (10, 0.9)  # 9 of 10 minutes good


def test_an_unknown_request_name_points_at_the_spec_line(tmp_path: Path) -> None:
    run = _write(tmp_path / "run", [(T0, "GET /a", [1_000], {})])
    spec = _spec(tmp_path, "- name: x\n  kind: availability\n  objective: 99%\n  requests: [GET /nope]\n")
    with pytest.raises(SpecError, match=r"spec.yaml:7: objectives\[0\].requests: 'GET /nope' matches no request "
                                        r"name in the run; known names: 'GET /a'"):
        evaluate_run(run, spec)


def test_an_optional_request_name_missing_is_not_applicable(tmp_path: Path) -> None:
    run = _write(tmp_path / "run", [(T0, "GET /a", [1_000], {})])
    spec = _spec(tmp_path, "- {name: x, kind: availability, objective: 99%, requests: [WS x], required: false}\n")
    assert evaluate_run(run, spec).objectives[0].verdict == "not-applicable"


def test_an_empty_run_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="empty run folder"):
        evaluate_run(tmp_path, load_spec())


def test_journey_and_drill_objectives_without_their_files_are_not_applicable(tmp_path: Path) -> None:
    run = _write(tmp_path / "run", [(T0, "GET /a", [1_000], {})])
    verdicts = {o.kind: o.verdict for o in evaluate_run(run).objectives}
    assert {verdicts[k] for k in ("journey_step", "page_load", "web_vital", "rto", "rpo")} == {"not-applicable"}


def test_drill_rto_and_rpo_are_judged_on_the_worst_scenario(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "drill.json").write_text(json.dumps({"format": "rxsuite-drill/1", "scenarios": [
        {"name": "primary-loss", "rto_s": 42.0, "rpo_s": 0.0, "rpo_count": 0},
        {"name": "region-loss", "rto_s": 400.0, "rpo_s": 3.5, "rpo_count": 12}]}))
    results = {o.name: o for o in evaluate_run(run).objectives}
    assert (results["rto"].verdict, results["rto"].measured) == ("fail", 400.0)  # target 5m
    assert (results["rpo"].verdict, results["rpo"].measured) == ("pass", 3.5)  # target 30s
    assert results["availability"].verdict == "not-applicable"


def test_web_vitals_use_the_exact_percentile_of_the_page_loads(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lcp = [1.0 + i / 100 for i in range(100)]  # 1.00 .. 1.99 s
    pages = [{"journey": "renewal", "page": "/dashboard", "load_s": 1.5, "vitals": {"lcp_s": v}} for v in lcp]
    (run / "journeys.json").write_text(json.dumps({"format": "rxsuite-journeys/1", "steps": [],
                                                   "page_loads": pages}))
    result = {o.name: o for o in evaluate_run(run).objectives}["lcp-p75"]
    assert result.measured == pytest.approx(1.74)  # 75th of 100 sorted values
    assert result.verdict == "pass"  # all 100 below 2.5 s: even the upper bound is
    assert result.sufficiency["needed"] == 11  # type: ignore[index]  # 0.75^11 < 0.05 <= 0.75^10


def test_slo_json_is_written_whole(tmp_path: Path) -> None:
    run = _hand_counted_run(tmp_path / "run")
    path = write_slo_json(evaluate_run(run, _spec(tmp_path, _AVAILABILITY)), run)
    data = json.loads(path.read_text())
    assert (path.name, data["format"], data["verdict"]) == ("slo.json", "rxsuite-slo-result/1", "insufficient-data")
    assert sorted(p.name for p in run.iterdir()) == ["latency.jsonl", "slo.json"]


def test_cli_exit_codes_and_plain_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "good", [(T0 + i, "GET /a", np.full(1000, 5_000), {}) for i in range(5)])
    bad = _write(tmp_path / "bad", [(T0 + i, "GET /a", np.full(1000, 5_000), {"http_5xx": 20}) for i in range(5)])
    few = _write(tmp_path / "few", [(T0, "GET /a", np.full(10, 5_000), {})])
    spec = str(_spec(tmp_path, _AVAILABILITY))
    assert main(["slo", "evaluate", str(good), "--spec", spec, "--format", "plain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:2] == ["objective", "verdict"]
    assert lines[1].split("\t")[:2] == ["availability", "pass"]
    assert lines[-1] == "overall\tpass\t0"
    assert main(["slo", "evaluate", str(bad), "--spec", spec]) == 1
    assert main(["slo", "evaluate", str(few), "--spec", spec]) == 3
    assert main(["slo", "evaluate", str(tmp_path / "missing"), "--spec", spec]) == 2
    assert (good / "slo.json").is_file()


def test_cli_reports_a_spec_error_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _write(tmp_path / "run", [(T0, "GET /a", [1_000], {})])
    spec = _spec(tmp_path, "- {name: a, kind: availability, objective: 100%}\n")
    assert main(["slo", "evaluate", str(run), "--spec", str(spec)]) == 2
    assert "spec.yaml:4: objectives[0].objective: '100%' is outside (0, 100)" in capsys.readouterr().err
    assert not (run / "slo.json").exists()


def test_a_record_without_windows_is_insufficient_data_not_an_error(tmp_path: Path) -> None:
    RecordWriter(tmp_path).close()  # the run died before its first window
    evaluation = evaluate_run(tmp_path, _spec(tmp_path, _AVAILABILITY + _LATENCY))
    verdicts = {o.name: o.verdict for o in evaluation.objectives}
    assert verdicts == {"availability": "insufficient-data", "p95": "insufficient-data", "p95-each": "not-applicable"}
    assert evaluation.exit_code == 3


def test_the_drill_runners_journal_is_read_for_what_it_measured(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "drill.json").write_text(json.dumps({
        "schema": 1, "kind": "drill", "scenario": "pg-primary-loss", "status": "completed",
        "rto_s": 12.3, "metrics": {"rto_s": 12.3, "time_to_detect_s": 2.0}}))
    results = {o.name: o for o in evaluate_run(run).objectives}
    assert (results["rto"].verdict, results["rto"].measured) == ("pass", 12.3)
    assert results["rpo"].verdict == "not-applicable"  # this scenario did not measure RPO


def test_a_drill_suites_journal_is_judged_on_its_worst_scenario(tmp_path: Path) -> None:
    run = tmp_path / "suite"
    run.mkdir()
    (run / "drill.json").write_text(json.dumps({
        "schema": 1, "kind": "suite", "suite": "quarterly", "status": "completed", "scenarios": [
            {"scenario": "region-outage", "rto_s": 0.8, "rpo_count": 0, "rpo_s": 0.0},
            {"scenario": "db-failover-replication-lag", "rto_s": 3.6, "rpo_count": 40, "rpo_s": 4.07},
            {"scenario": "backup-restore", "status": "not run"}]}))
    results = {o.name: o for o in evaluate_run(run).objectives}
    assert results["rto"].measured == 3.6
    assert results["rpo"].measured == 4.07
