"""The latency/outcome recorder: per window and request name, outcome counts and an HDR histogram.

Two halves, neither of which imports Locust (the plugin wires them to Locust's events):
- `WindowBuffer` lives in every process that runs users. A success costs one append of two doubles per request
  (it is staged and placed in its window in bulk later); `close` turns finished windows into histograms, serialised
  compactly to ship to a master or kept as they are for a merger in the same process.
- `WindowMerger` lives in the process that owns the run folder (the master, or the only process). It merges the
  windows of every source and writes a window once every live source has moved past it (its watermark), so the
  record holds one line per window and name however many workers there are, and memory holds only the few
  seconds not yet written.
Windows are assigned by completion time. Latency histograms hold `ok` requests only (slo.records' rule).
"""

from __future__ import annotations

import csv
import gzip
import math
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from slo.histogram import Histogram
from slo.records import OUTCOMES, RecordWriter, WindowRecord

OK, HTTP_4XX, HTTP_429, HTTP_5XX, TIMEOUT, CONNECTION_ERROR = range(len(OUTCOMES))
_BAD = (HTTP_5XX, TIMEOUT, CONNECTION_ERROR)
_TIMEOUT_WORDS = ("timed out", "timeout")


def classify(status: int | None, exception: BaseException | None) -> int:
    """Outcome index of one request.

    A failure with a 2xx/3xx status is a response with the wrong content: the platform answered but not
    correctly, so it counts against availability like a 5xx (the plugin also counts it as a content error).
    """
    if exception is None:
        return OK
    if status:
        if status == 429:
            return HTTP_429
        if 400 <= status < 500:
            return HTTP_4XX
        return HTTP_5XX
    if isinstance(exception, TimeoutError) or any(w in str(exception).lower() for w in _TIMEOUT_WORDS) \
            or type(exception).__name__ == "Timeout":
        return TIMEOUT
    return CONNECTION_ERROR


class _Acc:
    __slots__ = ("batches", "latencies", "outcomes")

    def __init__(self) -> None:
        self.outcomes = [0] * len(OUTCOMES)
        self.latencies: list[float] = []  # ok requests added one at a time
        self.batches: list[npt.NDArray[np.float64]] = []  # ok requests settled in bulk


class WindowBuffer:
    """Collects samples of one process into windows of `window_s` seconds.

    A success without lag only appends Locust's start_time and response_time to `staged`, its request name's
    array of doubles: that append is the recorder's whole per-request cost. `settle` (run by `close`, about once a
    second) places the staged pairs in their windows in bulk, with numpy. Failures and lagged samples go
    through `add` directly.
    """

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._open: dict[int, dict[tuple[str, str], _Acc]] = {}
        # per (method, name): successes as Locust reports them, start time (s) then response time (ms), flat, as
        # C doubles: the event's float objects are freed at once, as they are without the recorder, so a second of
        # samples is 16 bytes a request rather than two live floats and a list slot
        self.staged: defaultdict[tuple[str, str], array[float]] = defaultdict(lambda: array("d"))
        self.closed_until = 0.0  # every window ending at or before this has been returned by close()

    def _acc(self, slot: int, key: tuple[str, str]) -> _Acc:
        names = self._open.get(slot)
        if names is None:
            names = self._open[slot] = {}
        acc = names.get(key)
        if acc is None:
            acc = names[key] = _Acc()
        return acc

    def add(self, request_type: str, name: str, outcome: int, latency_us: float, at: float) -> None:
        """One sample that completed at `at` (keyed by the (method, name) pair; close() joins them)."""
        acc = self._acc(int(at // self.window_s), (request_type, name))
        acc.outcomes[outcome] += 1
        if outcome == OK:
            acc.latencies.append(latency_us)

    def settle(self) -> None:
        """Place the staged successes in their windows: completion time is start time plus response time."""
        for key, staged in self.staged.items():
            if not staged:
                continue
            flat = np.array(staged, dtype=np.float64)  # one copy of the doubles (buffer protocol)
            del staged[:]
            latencies_us = flat[1::2] * 1000.0
            slots = np.floor_divide(flat[0::2] + latencies_us / 1e6, self.window_s).astype(np.int64)
            first, last = int(slots.min()), int(slots.max())
            # a second's samples span one or two windows; np.unique only for odd start times (a clock step)
            windows = range(first, last + 1) if last - first < 64 else np.unique(slots).tolist()
            for slot in windows:
                mine = latencies_us if first == last else latencies_us[slots == slot]
                if mine.size:
                    acc = self._acc(slot, key)
                    acc.outcomes[OK] += int(mine.size)
                    acc.batches.append(mine)

    def close(self, now: float, final: bool = False, serialised: bool = True) -> list[dict[str, Any]]:
        """Windows that ended at or before `now` (every open window when `final`).

        Their histograms are serialised to ship to a master; a merger in the same process takes them as they are.
        """
        self.settle()
        limit = math.inf if final else now // self.window_s
        done = sorted(slot for slot in self._open if slot + 1 <= limit)
        out: list[dict[str, Any]] = []
        for slot in done:
            for (request_type, name), acc in sorted(self._open.pop(slot).items()):
                hist = Histogram()
                hist.record_many(acc.latencies)
                for batch in acc.batches:
                    hist.record_many(batch)
                out.append({"t": slot * self.window_s, "d": self.window_s, "name": f"{request_type} {name}",
                            "o": acc.outcomes, "h": hist.to_dict() if serialised else hist})
        self.closed_until = math.inf if final else max(self.closed_until, limit * self.window_s)
        return out

    @property
    def pending_samples(self) -> int:
        staged = sum(len(samples) // 2 for samples in self.staged.values())
        return staged + sum(len(a.latencies) + sum(b.size for b in a.batches)
                            for names in self._open.values() for a in names.values())


class SampleRecorder:
    """The per-process recorder: its `on_request` is a Locust `events.request` listener (same signature).

    Request names become "METHOD name" (Locust's request type and name). In arrival mode the iteration's lag
    (context "rx_lag_s") is added to the latency, so it counts from the intended start; the latency from the
    actual send is kept beside it, per name for the whole run (`from_send`, shipped as it grows), so a reader sees
    how much of the latency was the queue.
    """

    def __init__(self, window_s: float = 1.0, raw_path: Path | None = None,
                 extras: Callable[[], dict[str, Any]] | None = None) -> None:
        self.buffer = WindowBuffer(window_s)
        self._staged = self.buffer.staged
        self.content_errors: dict[str, int] = {}
        self.from_send: dict[str, Histogram] = {}  # arrival mode, ok requests, since the last shipment
        self.final = False
        self._extras = extras
        self._raw: IO[str] | None = None
        self._raw_writer: Any = None
        if raw_path is not None:
            raw_path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = gzip.open(raw_path, "wt", newline="", encoding="utf-8")  # noqa: SIM115  closed in close_raw
            self._raw_writer = csv.writer(self._raw)
            self._raw_writer.writerow(RAW_COLUMNS)

    def on_request(self, request_type: str, name: str, response_time: float, response: Any = None,
                   exception: BaseException | None = None, context: dict[str, Any] | None = None,
                   start_time: float | None = None, url: str | None = None, response_length: int | None = None,
                   **_: Any) -> None:
        # Once per request in every user's path. Every field Locust fires today is named, so `**_` stays an empty
        # dict; a field a newer Locust adds lands there instead of breaking the listener.
        if exception is None and not context and start_time and self._raw_writer is None:
            self._staged[request_type, name].fromlist([start_time, response_time])
            return
        latency_us = (response_time or 0.0) * 1000.0
        end = start_time + latency_us / 1e6 if start_time else time.time()
        lag_s = (context.get("rx_lag_s") or 0.0) if context else 0.0
        status = getattr(response, "status_code", None)
        outcome = classify(status, exception)
        full_name = f"{request_type} {name}"
        if context and "rx_lag_s" in context and outcome == OK:  # arrival mode: the view from the actual send
            sent = self.from_send.get(full_name)
            if sent is None:
                sent = self.from_send[full_name] = Histogram()
            sent.record(latency_us)
        if lag_s:
            latency_us += lag_s * 1e6
        if exception is not None and status and status < 400:
            self.content_errors[full_name] = self.content_errors.get(full_name, 0) + 1
        self.buffer.add(request_type, name, outcome, latency_us, end)
        if self._raw_writer is not None:
            self._raw_writer.writerow((f"{end:.6f}", full_name, OUTCOMES[outcome], f"{latency_us:.0f}",
                                       f"{lag_s * 1e6:.0f}", status or 0))

    def ship(self, now: float, serialised: bool = True) -> dict[str, Any]:
        """Closed windows (all of them once `final`), as sent to the master (`serialised`) or merged locally."""
        windows = self.buffer.close(now, final=self.final, serialised=serialised)
        from_send, self.from_send = self.from_send, {}
        return {"windows": windows, "watermark": self.buffer.closed_until, "final": self.final,
                "content_errors": dict(self.content_errors),
                "from_send": {name: h.to_dict() if serialised else h for name, h in from_send.items()},
                **(self._extras() if self._extras else _NO_EXTRAS)}

    def close_raw(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
            self._raw_writer = None


RAW_COLUMNS = ("end_time", "name", "outcome", "latency_us", "lag_us", "status")
_NO_EXTRAS: dict[str, Any] = {
    "problems": {}, "generator": {"cpu": {}, "series": []},
    "arrival": {"slots": 0, "late_slots": 0, "max_lag_s": 0.0, "backlog_slots": 0, "on_time_slots": 0,
                "late_wakeups": 0, "max_wake_lag_s": 0.0},
}


@dataclass
class NameTotals:
    """Whole-run figures of one request name (or of all names), kept in constant memory."""

    outcomes: list[int] = field(default_factory=lambda: [0] * len(OUTCOMES))
    histogram: Histogram = field(default_factory=Histogram)

    def add(self, outcomes: Iterable[int], histogram: Histogram) -> None:
        for i, count in enumerate(outcomes):
            self.outcomes[i] += count
        self.histogram.add(histogram)

    @property
    def requests(self) -> int:
        return sum(self.outcomes)

    @property
    def bad(self) -> int:
        return sum(self.outcomes[i] for i in _BAD)

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "outcomes": dict(zip(OUTCOMES, self.outcomes, strict=True)),
                **latency_summary(self.histogram)}


def latency_summary(hist: Histogram) -> dict[str, float | None]:
    """p50, p95, p99 and max of a histogram of microseconds, in milliseconds (None when empty)."""

    def ms(p: float) -> float | None:
        value = hist.value_at_percentile(p)
        return None if value is None else round(value / 1000.0, 3)

    return {"p50_ms": ms(50), "p95_ms": ms(95), "p99_ms": ms(99),
            "max_ms": None if hist.max is None else round(hist.max / 1000.0, 3)}


WindowCallback = Callable[[float, float, list[int], Histogram], None]


class WindowMerger:
    """Merges serialised windows from any number of sources and appends them to the run's record."""

    def __init__(self, writer: RecordWriter, max_lag_s: float = 15.0, on_window: WindowCallback | None = None) -> None:
        self._writer = writer
        self._max_lag_s = max_lag_s
        self._on_window = on_window
        self._pending: dict[tuple[float, str], tuple[float, list[int], list[dict[str, Any] | Histogram]]] = {}
        self._watermarks: dict[str, float] = {}
        self._written_until = 0.0
        self.flushed_until = 0.0  # the record is complete for every window ending at or before this
        self.totals: dict[str, NameTotals] = {}
        self.overall = NameTotals()
        self.windows_written = 0
        self.late_windows = 0
        self.last_ok_at: float | None = None  # end of the newest window (received) that held an ok request
        self.received_bytes: dict[str, int] = {}

    def receive(self, source: str, windows: list[dict[str, Any]], watermark: float, size_bytes: int = 0) -> None:
        for w in windows:
            key = (float(w["t"]), w["name"])
            entry = self._pending.get(key)
            if entry is None:
                entry = self._pending[key] = (float(w["d"]), [0] * len(OUTCOMES), [])
            for i, count in enumerate(w["o"]):
                entry[1][i] += count
            entry[2].append(w["h"])
            if w["o"][OK]:
                end = float(w["t"]) + float(w["d"])
                self.last_ok_at = end if self.last_ok_at is None else max(self.last_ok_at, end)
        self._watermarks[source] = max(self._watermarks.get(source, 0.0), watermark)
        self.received_bytes[source] = self.received_bytes.get(source, 0) + size_bytes

    def flush(self, now: float | None = None, live_sources: Iterable[str] | None = None, final: bool = False) -> int:
        """Write every window all live sources have passed (or that is older than the lag limit); returns count."""
        now = time.time() if now is None else now
        if final:
            limit = math.inf
        else:
            live = set(self._watermarks) if live_sources is None else set(live_sources) & set(self._watermarks)
            limit = min((self._watermarks[s] for s in live), default=now)
            limit = max(min(limit, now), now - self._max_lag_s)
        ready = sorted(k for k, (d, _, _) in self._pending.items() if k[0] + d <= limit)
        if not math.isinf(limit):
            self.flushed_until = max(self.flushed_until, limit)
        by_start: dict[float, list[tuple[str, float, list[int], Histogram]]] = {}
        for key in ready:
            duration, outcomes, payloads = self._pending.pop(key)
            hist = as_histogram(payloads[0])
            for payload in payloads[1:]:
                hist.add(as_histogram(payload))
            late = key[0] < self._written_until
            self.late_windows += late
            self._writer.write_window(WindowRecord(start=key[0], duration_s=duration, name=key[1],
                                                   outcomes=dict(zip(OUTCOMES, outcomes, strict=True)),
                                                   histogram=hist, source="late" if late else None))
            self.windows_written += 1
            self.totals.setdefault(key[1], NameTotals()).add(outcomes, hist)
            self.overall.add(outcomes, hist)
            by_start.setdefault(key[0], []).append((key[1], duration, outcomes, hist))
        for start, rows in sorted(by_start.items()):
            if ready and not math.isinf(limit):
                self._written_until = max(self._written_until, start + rows[0][1])
            if self._on_window is not None:
                merged_outcomes = [sum(r[2][i] for r in rows) for i in range(len(OUTCOMES))]
                merged = Histogram()
                for row in rows:
                    merged.add(row[3])
                self._on_window(start, rows[0][1], merged_outcomes, merged)
        return len(ready)

    @property
    def pending_windows(self) -> int:
        return len(self._pending)


def as_histogram(payload: dict[str, Any] | Histogram) -> Histogram:
    """A window's histogram as a source sent it: serialised by a worker, as it is from this process's buffer."""
    return payload if isinstance(payload, Histogram) else Histogram.from_dict(payload)
