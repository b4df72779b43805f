"""SLOs from Prometheus over 28 days: the default spec's availability and latency objectives evaluated from a real
Prometheus holding 28 days of generated series (scraped every --scrape seconds), written with
`promtool tsdb create-blocks-from openmetrics`.

Prints, per objective, the queries it sent (issue 16: at most 20) and the evaluation's time (at most 2 s), with the
time of Prometheus's own `count()` over the same series as the reference measured in the same run, and checks the
counts against the ones the generator wrote.

    .venv/bin/python bench/slo_prometheus.py [--days 28] [--scrape 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rxcore.processes import port_is_free
from slo.prometheus import PrometheusClient
from slo.promsource import evaluate_prometheus
from slo.spec import load_spec
from slo.windows import Window
from tests.prometheus_blocks import holding

_PORT = 19190 + int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "4000"))
_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "3.0", "5.0", "10.0", "+Inf")
_LABELS = 'job="rx-app",route="/rest/v1/{table}",method="GET"'


def _generate(path: Path, start: int, samples: int, scrape_s: int, seed: int = 7) -> tuple[int, int, int]:
    """Writes the series; returns (requests, 5xx, requests at or under 3 s) as the ground truth."""
    rng = np.random.default_rng(seed)
    ok = np.cumsum(rng.poisson(50 * scrape_s / 60, samples))
    bad = np.cumsum(rng.binomial(1, 0.02, samples))
    shares = np.array([0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.97, 0.985, 0.99, 0.995, 0.999, 1.0])
    stamps = start + scrape_s * np.arange(1, samples + 1)
    with path.open("w") as out:
        out.write("# HELP http_requests Requests.\n# TYPE http_requests counter\n")
        for code, values in (("200", ok), ("500", bad)):
            out.writelines(f'http_requests_total{{{_LABELS},code="{code}"}} {v} {t}\n'
                           for t, v in zip(stamps, values, strict=True))
        out.write("# HELP http_request_duration_seconds Latency.\n# TYPE http_request_duration_seconds histogram\n")
        for le, share in zip(_BUCKETS, shares, strict=True):
            values = np.floor(ok * share).astype(np.int64)
            out.writelines(f'http_request_duration_seconds_bucket{{{_LABELS},code="200",le="{le}"}} {v} {t}\n'
                           for t, v in zip(stamps, values, strict=True))
        out.write("# EOF\n")
    return int(ok[-1] + bad[-1]), int(bad[-1]), int(np.floor(ok[-1] * shares[_BUCKETS.index("3.0")]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--scrape", type=int, default=300, help="seconds between generated samples")
    args = parser.parse_args()
    if shutil.which("promtool") is None or not port_is_free(_PORT):
        print("needs promtool (make deps) and a free port", _PORT)
        return 2
    root = Path(tempfile.mkdtemp(prefix="rx-bench-prom-"))
    end = int(time.time()) // 3600 * 3600 - 3 * 3600  # whole hours, before the head block Prometheus would own
    start = end - args.days * 86400
    samples = args.days * 86400 // args.scrape
    try:
        began = time.perf_counter()
        requests, failed, fast = _generate(root / "series.om", start, samples, args.scrape)
        with holding(root, root / "series.om", _PORT, blocks_timeout_s=1200, ready_timeout_s=120) as url:
            print(f"generated {args.days} days, {samples} samples per series, 15 series, written into blocks and "
                  f"served in {time.perf_counter() - began:.1f} s")
            return _measure(url, Window(float(start), float(end), f"{args.days}d"), requests, failed, fast)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(url: str, window: Window, requests: int, failed: int, fast: int) -> int:
    spec = load_spec(None)
    client = PrometheusClient(url)
    reference = time.perf_counter()
    client.query(f"count_over_time(http_requests_total{{{_LABELS}}}[{int(window.end - window.start)}s])", window.end)
    reference = time.perf_counter() - reference
    began = time.perf_counter()
    evaluation = evaluate_prometheus(spec, client, window)
    elapsed = time.perf_counter() - began
    by_name = {o.name: o for o in evaluation.objectives}
    availability, latency = by_name["availability"], by_name["latency-p95"]
    assert availability.series is not None and latency.measured is not None
    ok = (availability.samples == requests and sum(availability.series["bad"]) == failed
          and latency.samples == requests - failed and int(latency.measured * latency.samples + 0.5) == fast)
    for result in (availability, latency):
        queries = result.details["source"]["queries"]
        print(f"{result.name}: {result.verdict}, measured {result.measured:.6f} over {result.samples} events, "
              f"{queries} queries (limit 20){'' if queries <= 20 else '  OVER'}")
    print(f"evaluate_prometheus, {window.label} at step {evaluation.notes[0].rsplit(' ', 1)[-1]}: {elapsed:.2f} s "
          f"(limit 2 s); reference count_over_time over the window: {reference:.3f} s; "
          f"ratio {elapsed / max(reference, 1e-6):.1f}")
    print(f"counts equal to the generated ones: {ok}")
    return 0 if ok and elapsed <= 2.0 else 1



if __name__ == "__main__":
    sys.exit(main())
