"""One percentile definition: every caller that reports a percentile gives the same value for the same samples.

Ground truth counted by hand on 20 samples (125 µs/ms steps, so histogram buckets and float latencies are exact):
sorted k = 1 2 2 3 4 5 6 7 7 7 8 9 9 10 11 12 13 14 15 16; nearest rank ceil(p/100 * 20) gives k = 7 (p50, rank
10), 11 (p75, rank 15), 15 (p95, rank 19), 16 (p99, rank 20). Linear interpolation would give 7.5, 11.25, 15.05.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.measure import p95_ms
from chaos.probes import Sample
from reports.model import _pages
from slo.aggregate import LatencyQuery, aggregate
from slo.evaluate import evaluate_run
from slo.histogram import Histogram
from slo.percentile import nearest_rank, percentile
from slo.records import RecordWriter, WindowRecord, load_table, record_files
from slo.spec import load_spec

_STEP = 125
_K = [3, 16, 1, 7, 7, 12, 2, 9, 15, 4, 11, 5, 14, 8, 6, 10, 13, 7, 2, 9]
SAMPLES = [k * _STEP for k in _K]
EXPECTED = {50.0: 7 * _STEP, 75.0: 11 * _STEP, 95.0: 15 * _STEP, 99.0: 16 * _STEP}


@pytest.mark.parametrize(("p", "total", "rank"), [(0.0, 20, 1), (50.0, 20, 10), (95.0, 20, 19), (95.0, 1, 1),
                                                  (99.9, 1000, 999), (100.0, 7, 7), (33.3, 1000, 333)])
def test_the_nearest_rank_is_the_smallest_rank_covering_the_share(p: float, total: int, rank: int) -> None:
    assert nearest_rank(p, total) == rank


def test_a_percentile_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


@pytest.mark.parametrize("p", sorted(EXPECTED))
def test_raw_samples(p: float) -> None:
    assert percentile(SAMPLES, p) == EXPECTED[p]


@pytest.mark.parametrize("p", sorted(EXPECTED))
def test_histogram(p: float) -> None:
    hist = Histogram()
    hist.record_many(SAMPLES)
    assert hist.value_at_percentile(p) == EXPECTED[p]


@pytest.mark.parametrize("p", sorted(EXPECTED))
def test_per_step_aggregate(tmp_path: Path, p: float) -> None:
    hist = Histogram()
    hist.record_many(SAMPLES)
    with RecordWriter(tmp_path) as writer:
        writer.write_window(WindowRecord(start=1_764_000_000.0, duration_s=1.0, name="GET /a",
                                         outcomes={"ok": len(SAMPLES)}, histogram=hist))
    steps = aggregate(load_table(record_files(tmp_path)), 60.0, [LatencyQuery((0,), p, 3e6, True)])
    assert steps.q_value_us[0].tolist() == [EXPECTED[p]]


def test_drill_probe_latencies() -> None:
    # done - sent = k/8 s is exact in binary, so latency_ms = 125 k exactly
    samples = [Sample("read", i, 0.0, k / 8, True, 200, None) for i, k in enumerate(_K)]
    failed = Sample("read", 99, 0.0, 100.0, False, None, "timeout")  # failures have no latency to rank
    assert p95_ms([*samples, failed]) == EXPECTED[95.0]


def test_report_page_loads_and_vitals() -> None:
    loads = [{"journey": "j", "page": "/p", "load_s": s, "vitals": {"lcp_s": s}} for s in SAMPLES]
    (page,) = _pages(loads)
    assert (page["load_p75_s"], page["vitals_p75"]["lcp_s"]) == (EXPECTED[75.0], EXPECTED[75.0])


@pytest.mark.parametrize("p", sorted(EXPECTED))
def test_slo_web_vital_objective(tmp_path: Path, p: float) -> None:
    pages = [{"journey": "j", "page": "/p", "load_s": 1.0, "vitals": {"lcp_s": s / 1000}} for s in SAMPLES]
    (tmp_path / "journeys.json").write_text(json.dumps({"format": "rxsuite-journeys/1", "steps": [],
                                                        "page_loads": pages}))
    spec = tmp_path / "spec.yaml"
    spec.write_text("format: rxsuite-slo/1\nname: t\nobjectives:\n"
                    f"- {{name: lcp, kind: web_vital, vital: lcp, percentile: {p:g}, threshold: 4s}}\n")
    (result,) = evaluate_run(tmp_path, load_spec(spec)).objectives
    assert result.measured == EXPECTED[p] / 1000
