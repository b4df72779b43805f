"""Sandbox throughput: mixed read/write traffic through the edge (HAProxy) vs straight at region-a.

Two measurements per target, in the same run so the ratio compares like with like:
  - capacity: closed loop, fixed concurrency, as fast as it goes (requests/s);
  - latency at the target rate: open loop at --rate requests/s, latency measured from each request's intended start
    time (so a stall is not hidden), p50/p95/p99.
Target (issue 2): at least 300 req/s through the edge with p95 under 100 ms on a 2-core machine.

    .venv/bin/python bench/sandbox_throughput.py [--duration 15] [--rate 300] [--concurrency 16]

`--metrics-overhead` instead compares region-a's closed-loop capacity with its Prometheus `/metrics` on and off
(RXSUITE_METRICS=0), alternating twice in the same run (issue 16: the metrics cost at most 3 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from sandbox.app.metrics import AppMetrics
from sandbox.stack import Sandbox
from sandbox.variant import sandbox_variant
from slo.percentile import percentile

_OFFSET = int(os.environ.get("RXSUITE_TEST_PORT_OFFSET", "4000"))
_READ_SHARE = 0.8


@dataclass
class Users:
    tokens: list[str]
    medication_ids: list[str]
    anon_key: str


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def _sign_in(client: httpx.AsyncClient, base: str, sandbox: Sandbox, count: int) -> Users:
    patients = [c for c in sandbox.credentials if c["role"] == "patient"][:count]
    headers = {"apikey": sandbox.anon_key}
    tokens = []
    for patient in patients:
        response = await client.post(f"{base}/auth/v1/token?grant_type=password", headers=headers,
                                     json={"email": patient["email"], "password": patient["password"]})
        response.raise_for_status()
        tokens.append(response.json()["access_token"])
    meds = await client.get(f"{base}/rest/v1/medications?select=id&limit=50",
                            headers={**headers, "Authorization": f"Bearer {tokens[0]}"})
    meds.raise_for_status()
    return Users(tokens, [m["id"] for m in meds.json()], sandbox.anon_key)


class _Connection:
    """A bare HTTP/1.1 keep-alive connection: a load generator light enough not to starve the system under test
    on a 2-core machine (a full-featured client costs several times the app's own CPU per request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> _Connection:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        return cls(reader, writer)

    async def request(self, method: str, target: str, headers: bytes, body: bytes = b"") -> int:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + headers + b"\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


def _auth_headers(users: Users, token: str) -> bytes:
    return (f"apikey: {users.anon_key}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n").encode()


async def _one_request(conn: _Connection, users: Users, rng: random.Random) -> int:
    headers = _auth_headers(users, rng.choice(users.tokens))
    roll = rng.random()
    if roll < _READ_SHARE / 2:
        letter = rng.choice("abcdefghilmnoprst")
        return await conn.request("GET", f"/rest/v1/medications?select=id,name,price_cents&name=ilike.*{letter}*"
                                  "&limit=20", headers)
    if roll < _READ_SHARE:
        return await conn.request("GET", "/rest/v1/prescriptions?select=*&order=created_at.desc&limit=20", headers)
    body = json.dumps({"medication_id": rng.choice(users.medication_ids), "quantity": 1}).encode()
    return await conn.request("POST", "/rest/v1/prescriptions", headers, body)


def _count(outcome: Outcome, status: int | None, latency_ms: float) -> None:
    if status is None or status >= 400:
        outcome.errors += 1
    if status is not None:
        outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
    outcome.latencies_ms.append(latency_ms)


async def _timed(conn: _Connection, users: Users, rng: random.Random, outcome: Outcome, start: float) -> bool:
    """One request; False when the connection broke and must be replaced."""
    try:
        status: int | None = await _one_request(conn, users, rng)
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        status = None
    _count(outcome, status, (time.perf_counter() - start) * 1000)
    return status is not None


async def _closed_loop(base: str, users: Users, duration_s: float, concurrency: int) -> tuple[float, Outcome]:
    outcome = Outcome()
    deadline = time.perf_counter() + duration_s

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = await _Connection.open(base)
        while time.perf_counter() < deadline:
            if not await _timed(conn, users, rng, outcome, time.perf_counter()):
                conn.close()
                conn = await _Connection.open(base)
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    return len(outcome.latencies_ms) / elapsed, outcome


async def _open_loop(base: str, users: Users, duration_s: float, rate: float) -> tuple[float, Outcome]:
    """Requests start on a fixed schedule; latency counts from the scheduled start (no coordinated omission)."""
    outcome = Outcome()
    total = int(duration_s * rate)
    rng = random.Random(7)
    idle: list[_Connection] = []

    async def one(intended: float) -> None:
        conn = idle.pop() if idle else await _Connection.open(base)
        if await _timed(conn, users, rng, outcome, intended):
            idle.append(conn)
        else:
            conn.close()

    started = time.perf_counter()
    tasks = []
    for i in range(total):
        intended = started + i / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(intended)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    for conn in idle:
        conn.close()
    return len(outcome.latencies_ms) / elapsed, outcome


def _status_summary(*outcomes: Outcome) -> str:
    merged: dict[int, int] = {}
    for outcome in outcomes:
        for status, count in outcome.statuses.items():
            merged[status] = merged.get(status, 0) + count
    return "(" + ", ".join(f"{status}: {count}" for status, count in sorted(merged.items())) + ")"


def _percentiles(outcome: Outcome) -> tuple[float, float, float]:
    """p50, p95, p99 by the project's one definition (slo.percentile)."""
    p50, p95, p99 = (percentile(outcome.latencies_ms, p) for p in (50, 95, 99))
    if p50 is None or p95 is None or p99 is None:
        raise RuntimeError("no request was answered: no latency to take percentiles of")
    return p50, p95, p99


async def _measure(sandbox: Sandbox, args: argparse.Namespace) -> None:
    targets = {"edge": sandbox.edge_url, "region-a": sandbox.region_urls["region-a"]}
    async with httpx.AsyncClient(timeout=10) as client:
        users = await _sign_in(client, sandbox.edge_url, sandbox, args.users)
    results: dict[str, dict[str, float]] = {}
    for name, base in targets.items():
        await _closed_loop(base, users, 2, args.concurrency)  # warm-up: connections, caches
        capacity, closed = await _closed_loop(base, users, args.duration, args.concurrency)
        achieved, opened = await _open_loop(base, users, args.duration, args.rate)
        p50, p95, p99 = _percentiles(opened)
        results[name] = {"capacity": capacity, "achieved": achieved, "p50": p50, "p95": p95, "p99": p99,
                         "errors": closed.errors + opened.errors, "requests": len(closed.latencies_ms)
                         + len(opened.latencies_ms)}
        print(f"{name:9s} capacity {capacity:7.1f} req/s (closed loop, {args.concurrency} in flight) | "
              f"at {args.rate:.0f} req/s offered: achieved {achieved:6.1f} req/s, p50 {p50:6.1f} ms, "
              f"p95 {p95:6.1f} ms, p99 {p99:6.1f} ms | errors {results[name]['errors']:.0f} of "
              f"{results[name]['requests']:.0f} {_status_summary(closed, opened)}", flush=True)
    edge, direct = results["edge"], results["region-a"]
    print(f"edge/direct capacity ratio {edge['capacity'] / direct['capacity']:.3f}; "
          f"edge/direct p95 ratio at {args.rate:.0f} req/s {edge['p95'] / direct['p95']:.3f}")
    verdict = "met" if edge["achieved"] >= 0.98 * args.rate and edge["p95"] < 100 and edge["errors"] == 0 else "NOT met"
    print(f"target (>= {args.rate:.0f} req/s through the edge, p95 < 100 ms, no errors): {verdict}")


async def _metrics_overhead(sandbox: Sandbox, args: argparse.Namespace) -> None:
    base = sandbox.region_urls["region-a"]
    async with httpx.AsyncClient(timeout=10) as client:
        users = await _sign_in(client, sandbox.edge_url, sandbox, args.users)
    capacity: dict[bool, list[float]] = {True: [], False: []}
    for metrics in (True, False, True, False):
        await asyncio.to_thread(_restart_region_a, sandbox, metrics)
        await _closed_loop(base, users, 2, args.concurrency)  # warm-up: connections, caches
        measured, outcome = await _closed_loop(base, users, args.duration, args.concurrency)
        capacity[metrics].append(measured)
        print(f"region-a /metrics {'on ' if metrics else 'off'}: {measured:7.1f} req/s, errors {outcome.errors}",
              flush=True)
    await asyncio.to_thread(_restart_region_a, sandbox, True)
    on, off = statistics.fmean(capacity[True]), statistics.fmean(capacity[False])
    print(f"capacity with /metrics / without: {on / off:.3f} (cost {100 * (1 - on / off):.1f} %; target <= 3 %)")
    app_metrics = AppMetrics()
    rounds = 20_000
    began = time.perf_counter()
    for i in range(rounds):
        app_metrics.record("GET", "/rest/v1/{table}", 200 if i % 50 else 503, 0.01)
    per_request_s = (time.perf_counter() - began) / rounds
    print(f"the per-request accounting alone: {per_request_s * 1e6:.1f} us, {100 * per_request_s * off:.2f} % of a "
          f"request's time at the capacity without /metrics (less noisy than the capacities on a shared machine)")


def _restart_region_a(sandbox: Sandbox, metrics: bool) -> None:
    if metrics:
        os.environ.pop("RXSUITE_METRICS", None)
    else:
        os.environ["RXSUITE_METRICS"] = "0"  # the region inherits the environment (sandbox/parts.py)
    try:
        sandbox.faults.start_region("region-a")
    finally:
        os.environ.pop("RXSUITE_METRICS", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--metrics-overhead", action="store_true",
                        help="region-a's capacity with its /metrics on and off, as a ratio")
    args = parser.parse_args()
    sandbox = Sandbox(sandbox_variant(_OFFSET, "bench-sandbox"))
    try:
        sandbox.up()
        asyncio.run(_metrics_overhead(sandbox, args) if args.metrics_overhead else _measure(sandbox, args))
    finally:
        sandbox.down()


if __name__ == "__main__":
    main()
