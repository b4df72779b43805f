"""SLO evaluation of a recorded one-hour run at 5,000 req/s (18 M requests, 20 request names).

Generates the run folder (histograms built directly from vectorised samples, not 18 M Python calls), then in
separate processes times `evaluate_run` and the same evaluation done by pandas over the raw samples (per-name
and overall availability and p95, per-minute series, error budgets, 1h/5m burn rate), and prints time, peak
memory and the ratios.

    .venv/bin/python bench/slo_eval.py [--seconds 3600] [--rate 5000] [--names 20] [--pandas-share 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo.evaluate import evaluate_run
from slo.histogram import BUCKET_COUNT, bucket_index, encode_buckets
from slo.records import RecordWriter
from slo.spec import load_spec

_START = 1_764_000_000.0
_CHUNK_WINDOWS = 60


def _name_list(names: int) -> list[str]:
    return [f"GET /rest/v1/route{i:02d}?id=eq.[id]" for i in range(names)]


def _window_params(seconds: int, rate: float, names: int, seed: int) -> dict[str, np.ndarray]:
    """Per (window, name): request count, error counts and the latency distribution (log-normal)."""
    rng = np.random.default_rng(seed)
    per_name = rate / names
    total = rng.poisson(per_name, size=(seconds, names))
    errors = rng.binomial(total, 0.0004)
    incident = (np.arange(seconds) >= 2400) & (np.arange(seconds) < 2700)  # minutes 40-45: slow and failing
    errors[incident, :3] += rng.binomial(total[incident, :3], 0.02)
    timeouts = rng.binomial(total - errors, 0.0001)
    limited = rng.binomial(total - errors - timeouts, 0.001)
    ok = total - errors - timeouts - limited
    median_ms = np.geomspace(15, 600, names)
    mu = np.log(median_ms * 1000.0)[None, :].repeat(seconds, axis=0)
    mu[incident, :3] += np.log(4.0)
    return {"ok": ok, "5xx": errors, "timeout": timeouts, "429": limited, "mu": mu, "sigma": np.full(names, 0.7)}


def _samples(params: dict[str, np.ndarray], w0: int, w1: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw ok latencies (µs) for windows [w0, w1) as (row within chunk, value), rows in window-major order."""
    rng = np.random.default_rng([seed, w0])
    ok = params["ok"][w0:w1].ravel()
    rows = np.repeat(np.arange(ok.size), ok)
    mu = params["mu"][w0:w1].ravel()[rows]
    sigma = np.tile(params["sigma"], w1 - w0)[rows]
    values = np.rint(np.exp(mu + sigma * rng.standard_normal(rows.size)))
    return rows, np.minimum(values, 3_600_000_000.0)


def generate(run_dir: Path, seconds: int, rate: float, names: int, seed: int) -> int:
    """Write the run folder's latency.jsonl; returns the number of requests it records."""
    params = _window_params(seconds, rate, names, seed)
    RecordWriter(run_dir).close()  # header line
    labels = _name_list(names)
    with open(run_dir / "latency.jsonl", "a", encoding="utf-8") as out:
        for w0 in range(0, seconds, _CHUNK_WINDOWS):
            w1 = min(seconds, w0 + _CHUNK_WINDOWS)
            rows, values = _samples(params, w0, w1, seed)
            keys, counts = np.unique(rows * BUCKET_COUNT + bucket_index(values), return_counts=True)
            cells = (w1 - w0) * names
            sizes = np.bincount(keys // BUCKET_COUNT, minlength=cells)
            bounds = np.concatenate([[0], np.cumsum(sizes)])
            index = keys % BUCKET_COUNT
            sample_bounds = np.searchsorted(rows, np.arange(cells + 1))
            lows = np.minimum.reduceat(values, np.minimum(sample_bounds[:-1], values.size - 1))
            highs = np.maximum.reduceat(values, np.minimum(sample_bounds[:-1], values.size - 1))
            sums = np.add.reduceat(values, np.minimum(sample_bounds[:-1], values.size - 1))
            lines = []
            for r in range(cells):
                w, n = w0 + r // names, r % names
                ok = int(params["ok"][w, n])
                buckets = encode_buckets(index[bounds[r]:bounds[r + 1]], counts[bounds[r]:bounds[r + 1]])
                outcomes = [ok, 0, int(params["429"][w, n]), int(params["5xx"][w, n]), int(params["timeout"][w, n]), 0]
                lines.append(json.dumps({
                    "t": _START + w, "d": 1.0, "name": labels[n], "o": outcomes,
                    "h": {"n": ok, "min": int(lows[r]) if ok else None, "max": int(highs[r]) if ok else None,
                          "sum": float(sums[r]) if ok else 0.0, **buckets},
                }, separators=(",", ":")))
            out.write("\n".join(lines) + "\n")
    return int(sum(params[k].sum() for k in ("ok", "5xx", "timeout", "429")))


def _child_ours(run_dir: Path) -> dict[str, float | str]:
    spec = load_spec()
    started, cpu = time.perf_counter(), time.process_time()
    evaluation = evaluate_run(run_dir, spec)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    evaluate_run(run_dir, spec)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": peak_rss, "traced_peak_mb": traced,
            "verdict": evaluation.verdict}


def _child_pandas(seconds: int, rate: float, names: int, seed: int, share: float) -> dict[str, float]:
    import pandas as pd

    params = _window_params(seconds, rate, names, seed)
    windows = max(1, int(seconds * share))
    parts = [_samples(params, w0, min(windows, w0 + _CHUNK_WINDOWS), seed)
             for w0 in range(0, windows, _CHUNK_WINDOWS)]
    frames = []
    for i, (rows, values) in enumerate(parts):
        w0 = i * _CHUNK_WINDOWS
        frames.append(pd.DataFrame({"t": (w0 + rows // names).astype(np.int32), "name": (rows % names).astype(np.int16),
                                    "latency_us": values, "outcome": np.zeros(rows.size, dtype=np.int8)}))
    bad = [("5xx", 3), ("timeout", 4), ("429", 2)]
    for key, code in bad:  # one raw row per failed request
        w, n = np.nonzero(params[key][:windows])
        reps = params[key][:windows][w, n]
        frames.append(pd.DataFrame({"t": np.repeat(w, reps).astype(np.int32),
                                    "name": np.repeat(n, reps).astype(np.int16), "latency_us": np.nan,
                                    "outcome": np.full(int(reps.sum()), code, dtype=np.int8)}))
    df = pd.concat(frames, ignore_index=True)
    del frames, parts
    row_count = len(df)
    started, cpu = time.perf_counter(), time.process_time()
    _pandas_evaluation(df)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": peak_rss, "rows": row_count}


def _pandas_evaluation(df: object) -> dict[str, object]:
    """The evaluate_run figures, computed the obvious way with pandas from raw samples."""
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    df["minute"] = df["t"] // 60
    valid = df[df["outcome"] != 2]  # 429 excluded, as the default spec does
    ok = df[df["outcome"] == 0]
    availability = (valid["outcome"] == 0).mean()
    per_name_availability = valid.groupby("name")["outcome"].apply(lambda s: (s == 0).mean())
    p95 = ok["latency_us"].quantile(0.95)
    per_name_p95 = ok.groupby("name")["latency_us"].quantile(0.95)
    per_minute = valid.assign(bad=valid["outcome"] != 0).groupby("minute")["bad"].agg(["sum", "count"])
    per_minute_p95 = ok.groupby("minute")["latency_us"].quantile(0.95)
    per_name_minute_p95 = ok.groupby(["name", "minute"])["latency_us"].quantile(0.95)
    slow = ok.assign(slow=ok["latency_us"] >= 3_000_000).groupby("minute")["slow"].agg(["sum", "count"])
    burn_1h = per_minute["sum"].rolling(60, min_periods=1).sum() / per_minute["count"].rolling(60, min_periods=1).sum()
    burn_5m = per_minute["sum"].rolling(5, min_periods=1).sum() / per_minute["count"].rolling(5, min_periods=1).sum()
    budget = {"allowed": 0.001 * len(valid), "consumed": int((valid["outcome"] != 0).sum())}
    return {"availability": availability, "per_name": per_name_availability, "p95": p95, "per_name_p95": per_name_p95,
            "per_minute_p95": per_minute_p95, "per_name_minute": per_name_minute_p95, "slow": slow,
            "burn": (burn_1h / 0.001, burn_5m / 0.001), "budget": budget}


def _run_child(args: list[str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--names", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pandas-share", type=float, default=1.0,
                        help="share of the run the pandas reference holds as raw rows (scale down if RAM is short)")
    parser.add_argument("--child", choices=("ours", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "ours":
        print(json.dumps(_child_ours(args.run_dir)))
        return 0
    if args.child == "pandas":
        print(json.dumps(_child_pandas(args.seconds, args.rate, args.names, args.seed, args.pandas_share)))
        return 0
    common = ["--seconds", str(args.seconds), "--rate", str(args.rate), "--names", str(args.names),
              "--seed", str(args.seed)]
    with tempfile.TemporaryDirectory(prefix="slo-bench-") as tmp:
        run_dir = Path(tmp)
        started = time.perf_counter()
        requests = generate(run_dir, args.seconds, args.rate, args.names, args.seed)
        size_mb = (run_dir / "latency.jsonl").stat().st_size / 2**20
        print(f"generated {requests:,} requests, {args.seconds} windows x {args.names} names: "
              f"latency.jsonl {size_mb:.1f} MB in {time.perf_counter() - started:.1f} s")
        ours = _run_child([*common, "--child", "ours", "--run-dir", str(run_dir)])
    ref = _run_child([*common, "--child", "pandas", "--pandas-share", str(args.pandas_share)])
    scale = "" if args.pandas_share >= 1 else f" (scaled down to {args.pandas_share:.0%} of the run)"
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work skews wall times)")
    print(f"evaluate_run (histogram record): {ours['seconds']:.2f} s wall, {ours['cpu_seconds']:.2f} s CPU, "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB (process total), traced allocations peak "
          f"{ours['traced_peak_mb']:.0f} MB, verdict {ours['verdict']}")
    print(f"pandas over raw samples{scale}: {ref['rows']:,.0f} rows, {ref['seconds']:.2f} s wall, "
          f"{ref['cpu_seconds']:.2f} s CPU, peak RSS {ref['peak_rss_mb']:.0f} MB (process total, raw samples included)")
    scale_up = 1.0 / min(1.0, args.pandas_share)
    if scale_up > 1:
        print(f"pandas scaled linearly to the full run: {ref['seconds'] * scale_up:.2f} s wall, "
              f"{ref['cpu_seconds'] * scale_up:.2f} s CPU (estimate; peak RSS not extrapolated)")
    print(f"ratio pandas/ours: time {ref['seconds'] * scale_up / ours['seconds']:.1f}x wall, "
          f"{ref['cpu_seconds'] * scale_up / ours['cpu_seconds']:.1f}x CPU; "
          f"peak RSS {ref['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x")
    memory_ok = ours["peak_rss_mb"] <= 500
    print(f"target <= 500 MB: {'met' if memory_ok else 'NOT met'}; target <= 3 s: "
          f"{'met' if ours['seconds'] <= 3.0 else 'NOT met'} on wall time, "
          f"{'met' if ours['cpu_seconds'] <= 3.0 else 'NOT met'} on CPU time (not inflated by other load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
