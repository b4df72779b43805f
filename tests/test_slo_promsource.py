"""SLOs evaluated from Prometheus (slo/promsource.py, `rxsuite slo evaluate --env`) against a real Prometheus
holding series the test wrote (tests/test_slo_prometheus.py's fixture): the counts are the written ones."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from rxcore.exitcodes import ExitCode
from rxsuite.cli import main
from slo.promsource import evaluate_prometheus
from slo.spec import load_spec
from slo.windows import Window
from tests.test_slo_prometheus import _HOURS, _START, prometheus  # noqa: F401  (the module's fixture)

_WINDOW = Window(float(_START), float(_START + _HOURS * 3600), "6h")


def _spec(tmp_path: Path, objectives: list[dict]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"format": "rxsuite-slo/1", "name": "t", "series_step": "1m",
                                    "objectives": objectives}))
    return path


def _latency(percentile: float) -> dict:
    return {"name": "latency", "kind": "latency", "percentile": percentile, "threshold": "3s",
            "prometheus": {"histogram": "rx_latency_seconds", "buckets": [0.5, 1, 2.5, 3, 5]}}


def test_availability_counts_are_the_written_increments(prometheus, tmp_path: Path) -> None:  # noqa: F811
    client, truth = prometheus
    spec = load_spec(_spec(tmp_path, [{"name": "availability", "kind": "availability", "objective": "99%",
                                       "prometheus": {"total": "rx_requests_total",
                                                      "bad": 'rx_requests_total{code="500"}'}}]))
    result = evaluate_prometheus(spec, client, _WINDOW).objectives[0]
    assert result.samples == int(truth.ok.sum() + truth.bad.sum())
    assert result.series is not None
    assert result.series["bad"] == truth.bad.tolist()
    assert result.measured == pytest.approx(truth.ok.sum() / (truth.ok.sum() + truth.bad.sum()))
    assert result.details["source"]["queries"] <= 20


def test_a_threshold_between_buckets_is_said_and_bounded_not_interpolated(prometheus, tmp_path: Path) -> None:  # noqa: F811
    client, _ = prometheus
    result = evaluate_prometheus(load_spec(_spec(tmp_path, [_latency(98)])), client, _WINDOW).objectives[0]
    assert result.verdict == "insufficient-data"
    assert "no bucket boundary at 3s" in result.reason and "2.5 s and 5.0 s" in result.reason
    assert result.details["good_share_bounds"] == [0.97, 0.99]  # 970 and 990 of 1000 at or under 2.5 s and 5 s
    assert result.details["p98_bounds_s"] == [2.5, 5.0]


def test_unresolved_buckets_still_decide_when_both_neighbours_agree(prometheus, tmp_path: Path) -> None:  # noqa: F811
    client, _ = prometheus
    result = evaluate_prometheus(load_spec(_spec(tmp_path, [_latency(95)])), client, _WINDOW).objectives[0]
    assert result.verdict == "pass"  # even the 970 requests at or under 2.5 s are >= 95 % with confidence
    assert result.details["p95_bounds_s"] == [1.0, 2.5]  # 900 at or under 1 s, 970 at or under 2.5 s
    assert math.isinf(result.details["bucket_bounds_s"][-1])


def test_an_unreachable_prometheus_names_the_objective_and_the_query(tmp_path: Path, capsys) -> None:
    env = tmp_path / "staging.yaml"
    env.write_text(yaml.safe_dump({"name": "staging", "kind": "staging", "base_url": "https://rx.example.org",
                                   "prometheus": {"url": "http://127.0.0.1:9"}}))
    spec = _spec(tmp_path, [{"name": "availability", "kind": "availability", "objective": "99%",
                             "prometheus": {"total": "rx_requests_total", "bad": 'rx_requests_total{code="500"}'}}])
    code = main(["slo", "evaluate", "--env", str(env), "--window", "1h", "--spec", str(spec)])
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert "objective availability" in err and "rx_requests_total" in err and "did not answer" in err
    assert "Traceback" not in err


def test_a_window_without_env_is_refused_with_the_fix(capsys) -> None:
    assert main(["slo", "evaluate", "--window", "28d"]) == ExitCode.ERROR
    assert "add --env NAME" in capsys.readouterr().err


def _openslo(tmp_path: Path, url: str, ref: str = "team-prometheus") -> Path:
    path = tmp_path / "openslo.yaml"
    source = {"metricSourceRef": ref}
    docs = [
        {"apiVersion": "openslo/v1", "kind": "DataSource", "metadata": {"name": "team-prometheus"},
         "spec": {"type": "Prometheus", "connectionDetails": {"url": url}}},
        {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "availability"},
         "spec": {"budgetingMethod": "Occurrences", "objectives": [{"target": 0.99}],
                  "indicator": {"metadata": {"name": "requests"}, "spec": {"ratioMetric": {
                      "counter": True,
                      "bad": {"metricSource": {**source, "spec": {"query": 'rx_requests_total{code="500"}'}}},
                      "total": {"metricSource": {**source, "spec": {"query": "rx_requests_total"}}}}}}}},
    ]
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_an_openslo_datasource_names_the_prometheus_its_objectives_read(prometheus, tmp_path: Path) -> None:  # noqa: F811
    client, truth = prometheus
    spec = load_spec(_openslo(tmp_path, client.url))
    elsewhere = type(client)("http://127.0.0.1:9")  # the environment's Prometheus, unreachable: not asked
    result = evaluate_prometheus(spec, elsewhere, _WINDOW).objectives[0]
    assert result.details["source"] == {"type": "prometheus", "url": client.url, "queries": 3,  # total, bad, a reset
                                        "datasource": "team-prometheus", "window": "6h", "step_s": 60.0}
    assert result.samples == int(truth.ok.sum() + truth.bad.sum())
    assert elsewhere.queries == 0


def test_a_metric_source_ref_to_no_datasource_is_refused_naming_the_field(tmp_path: Path) -> None:
    from slo.spec import SpecError

    with pytest.raises(SpecError, match=r"metricSourceRef.*'nowhere' names no `kind: DataSource`"):
        load_spec(_openslo(tmp_path, "http://127.0.0.1:9", ref="nowhere"))
