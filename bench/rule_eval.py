"""Rule evaluation cost: the default spec's generated rules (and the edge spec's and the platform rule the sandbox
adds) evaluated by a fresh sandbox's Prometheus every second under traffic, read from Prometheus's own
`prometheus_rule_group_last_duration_seconds`. Prints each group's median, p90 and worst evaluation over the
window, and one evaluation cycle (the default spec's groups summed) at each, against the 10 ms limit (ratio < 1 is
within it; the exit code judges the median cycle). On a shared 2-core machine the tail is other processes' CPU.

    .venv/bin/python bench/rule_eval.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "8000")) + 700
_LIMIT_S = 0.010
_PATHS = ("/health", "/rest/v1/medications?select=id&limit=5", "/rest/v1/medications?select=id,name&limit=20",
          "/rest/v1/no_such_table", "/auth/v1/settings")


def _traffic(sandbox: Sandbox, seconds: float) -> int:
    """Requests on several routes (so the per-route rules have series), from 4 threads, for `seconds`."""
    headers = {"apikey": sandbox.anon_key, "Authorization": f"Bearer {sandbox.anon_key}"}
    deadline = time.monotonic() + seconds

    def loop(worker: int) -> int:
        sent = 0
        with httpx.Client(base_url=sandbox.edge_url, headers=headers, timeout=5) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    client.get(_PATHS[(sent + worker) % len(_PATHS)])
                sent += 1
                time.sleep(0.02)
        return sent

    with ThreadPoolExecutor(max_workers=4) as pool:
        return sum(pool.map(loop, range(4)))


def _over_window(prometheus: str, window_s: float, function: str) -> dict[str, float]:
    """Per rule group, `function` (e.g. `quantile_over_time(0.5, ...)`) of its last evaluation's duration."""
    query = function.replace("X", f"prometheus_rule_group_last_duration_seconds[{int(window_s)}s]")
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()["data"]["result"]
    return {r["metric"]["rule_group"].split(";")[-1]: float(r["value"][1]) for r in result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="traffic and measurement window")
    args = parser.parse_args()
    sandbox = Sandbox(sandbox_variant(_OFFSET, "bench-rule-eval"))
    try:
        sandbox.reset()
        sandbox.up()
        sent = _traffic(sandbox, args.seconds)
        prometheus = sandbox.config.url("prometheus")
        median = _over_window(prometheus, args.seconds, "quantile_over_time(0.5, X)")
        p90 = _over_window(prometheus, args.seconds, "quantile_over_time(0.9, X)")
        worst = _over_window(prometheus, args.seconds, "max_over_time(X)")
    finally:
        sandbox.down()
    print(f"{sent} requests over {args.seconds:g} s; rule groups evaluated every "
          f"{sandbox.config.monitoring.scrape_interval_s:g} s; evaluation time per group over the window (ms):")
    print(f"  {'group':52} {'median':>8} {'p90':>8} {'max':>8}")
    for group in sorted(worst):
        print(f"  {group:52} {median[group] * 1000:8.2f} {p90[group] * 1000:8.2f} {worst[group] * 1000:8.2f}")
    verdict = 0
    for label, figures in (("median", median), ("p90", p90), ("max", worst)):
        default = sum(s for g, s in figures.items() if g.startswith("rxsuite-slo-default-"))
        total = sum(figures.values())
        print(f"one cycle at each group's {label}: default spec {default * 1000:.2f} ms / limit {_LIMIT_S * 1000:g} ms"
              f" = ratio {default / _LIMIT_S:.2f}; every rule loaded {total * 1000:.2f} ms")
        if label == "median" and default > _LIMIT_S:
            verdict = 1
    return verdict


if __name__ == "__main__":
    sys.exit(main())
