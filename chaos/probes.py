"""Availability probes through the edge: a read and a sequenced ledger write, each at a fixed rate.

Requests start on a fixed clock (tick n at start + n / rate) and run on a thread pool, so a slow or hung request
never delays the next probe: a 10 Hz probe stays 10 Hz during an outage, which is what makes RTO and downtime
measurable to about one tick. Every sample carries its send and completion time (unix seconds).
The drill sets the clock again when it injects a fault (`align`): ticks then fall half a period after the
injection and every period on, so the grid RTO and time to detect are read on stands in the same place relative
to the fault in every run. Two runs of one scenario then differ by what the platform did, not by where the probe
clock happened to stand; half a period, so that the first probe never races the injection itself.
The probe loop checks itself: a probe sent more than slo.validity.LAG_BOUND_S after its tick (a starved process,
an exhausted pool) is late; too many late probes make the drill's timings invalid (`validity`, in drill.json).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from chaos.scenario import ProbeSpec
from slo.validity import LAG_BOUND_S, Validity, judge_probes

READ_PATH = "/rest/v1/medications?select=id&limit=1"
LEDGER_PATH = "/rest/v1/probe_writes"
_PAGE = 1000


@dataclass(frozen=True)
class Sample:
    kind: str
    seq: int
    sent: float
    done: float
    ok: bool
    status: int | None
    error: str | None

    @property
    def latency_ms(self) -> float:
        return (self.done - self.sent) * 1000

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProbeTarget:
    """Where probes go and with which keys (the service key is only needed for the ledger)."""

    edge_url: str
    anon_key: str
    service_key: str | None

    def read_headers(self) -> dict[str, str]:
        return {"apikey": self.anon_key}

    def ledger_headers(self) -> dict[str, str]:
        """As supabase-js sends a service-role client's calls: the service key as both `apikey` and bearer."""
        return {"apikey": self.service_key or self.anon_key, "Authorization": f"Bearer {self.service_key}",
                "Prefer": "return=representation"}


class Prober:
    """Runs the read and write probes until stopped; samples are kept in memory and appended to `series_file`."""

    def __init__(self, target: ProbeTarget, run_id: str, spec: ProbeSpec, series_file: Path | None = None) -> None:
        self.target = target
        self.run_id = run_id
        self.spec = spec
        self.kinds = tuple(k for k, on in (("read", spec.read), ("write", spec.write and target.service_key))
                           if on)
        self._series_file = series_file
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._realign_at: float | None = None
        self._thread: threading.Thread | None = None
        in_flight = int(spec.rate_hz * (spec.timeout_s + 1)) * max(1, len(self.kinds)) + 4
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="probe")
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        self._client = httpx.Client(timeout=spec.timeout_s, limits=limits)
        self.started_at: float | None = None
        self._sent = 0
        self._late = 0
        self._max_lag_s = 0.0

    def start(self) -> None:
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._schedule, name="probe-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def align(self) -> None:
        """Set the clock for a fault injected now: the next tick half a period from now, then one every period."""
        with self._lock:
            self._realign_at = time.monotonic() + 0.5 / self.spec.rate_hz
        self._wake.set()

    def samples(self, kind: str | None = None) -> list[Sample]:
        with self._lock:
            found = list(self._samples)
        return sorted((s for s in found if kind is None or s.kind == kind), key=lambda s: s.sent)

    def availability(self, window_s: float, now: float | None = None) -> float | None:
        """Share of successful probes sent in the last `window_s` seconds (None when none completed)."""
        now = time.time() if now is None else now
        recent = [s for s in self.samples() if now - window_s <= s.sent <= now]
        return sum(s.ok for s in recent) / len(recent) if recent else None

    def validity(self) -> Validity:
        """Whether the probes went out on their ticks (slo.validity.judge_probes)."""
        with self._lock:
            return judge_probes(self._sent, self._late, self._max_lag_s)

    def _schedule(self) -> None:
        period = 1.0 / self.spec.rate_hz
        origin = time.monotonic()  # tick n is due at origin + n * period
        tick = 0
        while not self._stop.is_set():
            due = origin + tick * period
            if self._wake.wait(max(0.0, due - time.monotonic())):  # stopped, or the clock is set again
                with self._lock:
                    realign, self._realign_at = self._realign_at, None
                    self._wake.clear()
                if realign is not None:
                    origin = realign - tick * period  # the next tick is due at the realigned instant
                continue
            for kind in self.kinds:
                self._pool.submit(self._probe, kind, tick, due)
            tick += 1

    def _probe(self, kind: str, seq: int, due: float) -> None:
        lag_s = max(0.0, time.monotonic() - due)
        with self._lock:
            self._sent += 1
            self._late += lag_s > LAG_BOUND_S
            self._max_lag_s = max(self._max_lag_s, lag_s)
        sent = time.time()
        status: int | None = None
        error: str | None = None
        try:
            if kind == "read":
                response = self._client.get(self.target.edge_url + READ_PATH, headers=self.target.read_headers())
                ok = response.status_code == 200
            else:
                response = self._client.post(self.target.edge_url + LEDGER_PATH, headers=self.target.ledger_headers(),
                                             json={"run_id": self.run_id, "seq": seq, "payload": f"probe {seq}"})
                ok = response.status_code == 201
            status = response.status_code
            if not ok:
                error = f"http_{status}"
        except httpx.TimeoutException:
            ok, error = False, "timeout"
        except httpx.HTTPError as exc:
            ok, error = False, f"connection_error: {type(exc).__name__}"
        sample = Sample(kind, seq, sent, time.time(), ok, status, error)
        with self._lock:
            self._samples.append(sample)
            if self._series_file is not None:
                with open(self._series_file, "a", encoding="utf-8") as out:
                    out.write(json.dumps(sample.to_json()) + "\n")


def fetch_ledger(target: ProbeTarget, run_id: str, timeout_s: float = 5.0) -> set[int]:
    """Every seq of `run_id` the platform holds now, read through the edge with the service key."""
    seqs: set[int] = set()
    with httpx.Client(timeout=timeout_s) as client:
        for page in range(1000):
            response = client.get(f"{target.edge_url}{LEDGER_PATH}", headers=target.ledger_headers(), params={
                "run_id": f"eq.{run_id}", "select": "seq", "order": "seq.asc", "limit": str(_PAGE),
                "offset": str(page * _PAGE)})
            response.raise_for_status()
            rows = response.json()
            seqs.update(int(row["seq"]) for row in rows)
            if len(rows) < _PAGE:
                break
    return seqs


def retry(fetch: Callable[[], set[int]], attempts: int = 10, pause_s: float = 1.0) -> set[int]:
    """The ledger read after recovery may meet a platform still settling: retry a bounded number of times."""
    for _ in range(attempts - 1):
        try:
            return fetch()
        except (httpx.HTTPError, ValueError, KeyError):
            time.sleep(pause_s)
    return fetch()
