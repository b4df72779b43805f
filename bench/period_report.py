"""A quarter's report from Prometheus: `rxsuite report --period 2026-Q3 --env` on a generated 2026-Q3 of the sandbox's
metric names (three routes, one of them slow; weekly samples written with `promtool tsdb create-blocks-from
openmetrics`), the default spec.

Prints the evaluation's time (limit 2 s) and queries per objective (limit 20), the whole report's time, the time
of Prometheus's own `count_over_time` over the quarter as the reference measured in the same run, and checks the
counts against the ones the generator wrote. The docs' example period report (docs/monitoring.md) is this data.

    .venv/bin/python bench/period_report.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rxcore.processes import port_is_free
from rxsuite.cli import main as rxsuite
from slo.prometheus import PrometheusClient
from slo.promsource import evaluate_prometheus
from slo.spec import load_spec
from slo.windows import parse_window
from tests.prometheus_blocks import holding

_PORT = 19194 + int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "4000"))
_START = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
_LAST = int(datetime(2026, 9, 30, 23, tzinfo=UTC).timestamp())
# route: (method, requests a week, 5xx a week, share of the ok requests at or under each bucket boundary)
ROUTES = {
    "/rest/v1/{table}": ("GET", 600_000, 240, {0.05: .55, 0.1: .8, 0.25: .93, 0.5: .97, 1: .99, 2.5: .997, 3: .998,
                                               5: .9995, 10: 1}),
    "/auth/v1/token": ("POST", 40_000, 30, {0.05: .2, 0.1: .5, 0.25: .85, 0.5: .95, 1: .985, 2.5: .996, 3: .998,
                                            5: 1, 10: 1}),
    "/functions/v1/{name}": ("POST", 8_000, 40, {0.05: 0, 0.1: .05, 0.25: .2, 0.5: .45, 1: .7, 2.5: .9, 3: .93,
                                                 5: .98, 10: 1}),
}


def openmetrics() -> tuple[str, dict[str, tuple[int, int, int]]]:
    """The series, and per route the (requests, 5xx, ok requests within 3 s) the quarter holds."""
    stamps = [_START + 30] + [_START + k * 7 * 86400 for k in range(1, 14)] + [_LAST]
    weeks = len(stamps) - 1
    lines = ["# HELP http_requests Requests.", "# TYPE http_requests counter"]
    truth = {}
    for route, (method, n, bad, shares) in ROUTES.items():
        labels = f'job="rx-app",route="{route}",method="{method}"'
        for code, per in (("200", n - bad), ("500", bad)):
            lines += [f'http_requests_total{{{labels},code="{code}"}} {per * i} {t}' for i, t in enumerate(stamps)]
        truth[route] = (n * weeks, bad * weeks, round((n - bad) * shares[3]) * weeks)
    lines += ["# HELP http_request_duration_seconds Latency.", "# TYPE http_request_duration_seconds histogram"]
    for route, (method, n, bad, shares) in ROUTES.items():
        labels, ok = f'job="rx-app",route="{route}",method="{method}",code="200"', n - bad
        for le, count in [*((float(b), round(ok * s)) for b, s in shares.items()), ("+Inf", ok)]:
            lines += [f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {count * i} {t}'
                      for i, t in enumerate(stamps)]
        lines += [f"http_request_duration_seconds_count{{{labels}}} {ok * i} {t}" for i, t in enumerate(stamps)]
        lines += [f"http_request_duration_seconds_sum{{{labels}}} {ok * i / 10} {t}" for i, t in enumerate(stamps)]
    return "\n".join([*lines, "# EOF"]) + "\n", truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="write the report here and keep it")
    args = parser.parse_args()
    if shutil.which("promtool") is None or not port_is_free(_PORT):
        print("needs promtool (make deps) and a free port", _PORT)
        return 2
    root = Path(tempfile.mkdtemp(prefix="rx-bench-period-"))
    try:
        text, truth = openmetrics()
        (root / "q3.om").write_text(text)
        with holding(root, root / "q3.om", _PORT, blocks_timeout_s=600, ready_timeout_s=120) as url:
            return _measure(url, root, truth, args.keep or root / "report")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(url: str, root: Path, truth: dict[str, tuple[int, int, int]], output: Path) -> int:
    client = PrometheusClient(url)
    window = parse_window("2026-Q3", time.time())
    reference = time.perf_counter()
    client.query(f"count_over_time(http_requests_total[{int(window.end - window.start)}s])", window.end)
    reference = time.perf_counter() - reference
    began = time.perf_counter()
    evaluation = evaluate_prometheus(load_spec(None), client, window)
    elapsed = time.perf_counter() - began
    by_name = {o.name: o for o in evaluation.objectives}
    requests, bad = sum(t[0] for t in truth.values()), sum(t[1] for t in truth.values())
    ok = by_name["availability"].samples == requests and by_name["availability"].measured == (requests - bad) / requests
    for route, (n, failed, fast) in truth.items():
        row = by_name[f"latency-p95-per-request[{route}]"]
        ok = ok and row.samples == n - failed and row.measured == fast / (n - failed)
    counted = {o.name.split("[")[0]: o.details["source"]["queries"] for o in evaluation.objectives if o.details}
    for name, queries in counted.items():
        print(f"{name}: {queries} queries (limit 20){'' if queries <= 20 else '  OVER'}")
    print(f"evaluate_prometheus, 2026-Q3, default spec: {elapsed:.2f} s (limit 2 s); reference count_over_time over "
          f"the quarter: {reference:.3f} s; ratio {elapsed / max(reference, 1e-6):.1f}")
    env = root / "production.yaml"
    env.write_text(yaml.safe_dump({"name": "production", "kind": "production", "base_url": "https://rx.example.org",
                                   "prometheus": {"url": url}}))
    began = time.perf_counter()
    code = rxsuite(["report", "--period", "2026-Q3", "--env", str(env), "--runs-dir", str(root / "runs"),
                    "--output", str(output), "--no-pdf"])
    print(f"rxsuite report --period 2026-Q3 --env: {time.perf_counter() - began:.2f} s, exit code {code}")
    report = json.loads((output / "report.json").read_text())
    ok = ok and report["slo"]["objectives"][0]["samples"] == requests
    print(f"counts equal to the generated ones: {ok}")
    return 0 if ok and elapsed <= 2.0 and max(counted.values()) <= 20 else 1



if __name__ == "__main__":
    sys.exit(main())
