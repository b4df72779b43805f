"""The recorder without Locust: classification, windows, merging across sources, accuracy of the percentiles.

These tests import no Locust module (Locust monkey-patches the standard library on import); they drive the same
SampleRecorder.on_request listener Locust calls, with synthetic samples. The one test of the plugin's side runs
in a child process.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from locustfiles.recorder import (
    CONNECTION_ERROR,
    HTTP_4XX,
    HTTP_5XX,
    HTTP_429,
    OK,
    TIMEOUT,
    SampleRecorder,
    WindowBuffer,
    WindowMerger,
    classify,
)
from slo.histogram import Histogram
from slo.records import RecordWriter, iter_windows

ROOT = Path(__file__).resolve().parent.parent


def _response(status: int) -> SimpleNamespace:
    return SimpleNamespace(status_code=status)


@pytest.mark.parametrize(("status", "exception", "expected"), [
    (200, None, OK),
    (402, None, OK),  # a status the user model accepted (declined card) is a correct answer
    (404, RuntimeError("unexpected HTTP 404"), HTTP_4XX),
    (429, RuntimeError("unexpected HTTP 429"), HTTP_429),
    (503, RuntimeError("unexpected HTTP 503"), HTTP_5XX),
    (200, RuntimeError("body is not JSON"), HTTP_5XX),  # wrong content counts against availability
    (0, ConnectionRefusedError(111, "Connection refused"), CONNECTION_ERROR),
    (0, TimeoutError("timed out"), TIMEOUT),
    (None, OSError("read timed out"), TIMEOUT),
])
def test_classify(status: int | None, exception: BaseException | None, expected: int) -> None:
    assert classify(status, exception) == expected


def test_windows_are_assigned_by_completion_time_and_close_only_when_over() -> None:
    buffer = WindowBuffer(window_s=1.0)
    buffer.add("GET", "/a", OK, 1000, at=100.2)
    buffer.add("GET", "/a", OK, 2000, at=100.9)
    buffer.add("GET", "/a", HTTP_5XX, 0, at=101.1)
    closed = buffer.close(now=101.5)
    assert [(w["t"], w["o"][OK], w["o"][HTTP_5XX]) for w in closed] == [(100.0, 2, 0)]
    assert buffer.closed_until == 101.0
    final = buffer.close(now=101.5, final=True)
    assert [(w["t"], w["o"][HTTP_5XX]) for w in final] == [(101.0, 1)]
    assert math.isinf(buffer.closed_until)


def test_histograms_hold_ok_latencies_only() -> None:
    buffer = WindowBuffer()
    buffer.add("GET", "/a", OK, 1500, at=5.0)
    buffer.add("GET", "/a", TIMEOUT, 30_000_000, at=5.5)
    (window,) = buffer.close(now=7.0)
    hist = Histogram.from_dict(window["h"])
    assert hist.count == 1 and hist.max == 1500


def test_sample_recorder_names_by_method_and_adds_the_arrival_lag() -> None:
    recorder = SampleRecorder()
    recorder.on_request(request_type="GET", name="/x?id=eq.[id]", response_time=12.0, response=_response(200),
                        exception=None, context={"rx_lag_s": 0.5})
    recorder.final = True
    (window,) = recorder.ship(now=0.0)["windows"]
    assert window["name"] == "GET /x?id=eq.[id]"
    assert Histogram.from_dict(window["h"]).max == 512_000


def test_sample_recorder_counts_content_errors_apart() -> None:
    recorder = SampleRecorder()
    recorder.on_request(request_type="GET", name="/x", response_time=1.0, response=_response(200),
                        exception=RuntimeError("a row breaks the rule"), context={})
    assert recorder.content_errors == {"GET /x": 1}


def test_staged_successes_land_in_the_window_of_their_completion_even_out_of_order() -> None:
    recorder = SampleRecorder()
    # completions at 100.95, 101.05 and 100.99 s: the third finished before the second was reported
    for start, ms in ((100.9, 50.0), (101.0, 50.0), (100.5, 490.0)):
        recorder.on_request(request_type="GET", name="/a", response_time=ms, response=_response(200),
                            exception=None, context={}, start_time=start)
    assert recorder.buffer.pending_samples == 3
    recorder.final = True
    windows = recorder.ship(now=0.0)["windows"]
    assert [(w["t"], w["o"][OK], Histogram.from_dict(w["h"]).max) for w in windows] == [
        (100.0, 2, 490_000), (101.0, 1, 50_000)]


def test_staged_and_direct_samples_make_the_same_windows() -> None:
    """The fast path (a success Locust reports with its start time) and the general path agree exactly."""
    rng = np.random.default_rng(3)
    starts = 500.0 + np.cumsum(rng.exponential(0.004, size=2_000))
    times_ms = rng.lognormal(mean=math.log(40), sigma=1.0, size=starts.size)
    staged, direct = SampleRecorder(), WindowBuffer()
    for start, ms in zip(starts.tolist(), times_ms.tolist(), strict=True):
        staged.on_request(request_type="GET", name="/a", response_time=ms, response=_response(200),
                          exception=None, context={}, start_time=start)
        direct.add("GET", "/a", OK, ms * 1000.0, at=start + ms * 1000.0 / 1e6)
    assert staged.buffer.close(now=0.0, final=True) == direct.close(now=0.0, final=True)


def _lines(path: Path) -> list:
    return list(iter_windows(path))


def test_merger_writes_one_line_per_window_and_name_equal_to_the_sum(tmp_path: Path) -> None:
    a, b = WindowBuffer(), WindowBuffer()
    for i in range(10):
        a.add("GET", "/a", OK, 1000 + i, at=10.1)
        b.add("GET", "/a", OK, 5000 + i, at=10.7)
    b.add("GET", "/a", HTTP_5XX, 0, at=10.8)
    with RecordWriter(tmp_path) as writer:
        merger = WindowMerger(writer)
        merger.receive("a", a.close(now=11.0), a.closed_until)
        merger.receive("b", b.close(now=11.0), b.closed_until)
        assert merger.flush(now=11.0) == 1
    (record,) = _lines(tmp_path)
    assert record.outcomes == {"ok": 20, "http_5xx": 1}
    assert record.histogram.count == 20 and record.histogram.min == 1000 and record.histogram.max == 5009


def test_windows_merged_in_their_own_process_unserialised_write_the_same_record(tmp_path: Path) -> None:
    records = []
    for serialised in (True, False):
        buffer = WindowBuffer()
        for i in range(50):
            buffer.add("GET", "/a", OK, 1000 + 37 * i, at=10.0 + i / 100)
        buffer.add("GET", "/a", HTTP_5XX, 0, at=10.9)
        with RecordWriter(tmp_path / str(serialised)) as writer:
            merger = WindowMerger(writer)
            merger.receive("local", buffer.close(now=11.0, serialised=serialised), buffer.closed_until)
            merger.flush(now=11.0)
        records.append(_lines(tmp_path / str(serialised)))
    assert records[0] == records[1] and len(records[0]) == 1


def test_merger_waits_for_the_slowest_live_source(tmp_path: Path) -> None:
    a, b = WindowBuffer(), WindowBuffer()
    a.add("GET", "/a", OK, 1000, at=10.5)
    b.add("GET", "/a", OK, 1000, at=10.5)
    with RecordWriter(tmp_path) as writer:
        merger = WindowMerger(writer)
        merger.receive("a", a.close(now=11.0), a.closed_until)
        merger.receive("b", [], watermark=10.0)  # b has not closed window 10 yet
        assert merger.flush(now=11.2) == 0
        merger.receive("b", b.close(now=11.0), b.closed_until)
        assert merger.flush(now=11.3) == 1
    assert _lines(tmp_path)[0].outcomes == {"ok": 2}


def test_merger_stops_waiting_for_a_source_that_is_not_live(tmp_path: Path) -> None:
    a = WindowBuffer()
    a.add("GET", "/a", OK, 1000, at=10.5)
    with RecordWriter(tmp_path) as writer:
        merger = WindowMerger(writer)
        merger.receive("a", a.close(now=11.0), a.closed_until)
        merger.receive("dead", [], watermark=5.0)
        assert merger.flush(now=11.2, live_sources=["a"]) == 1


def test_merger_memory_does_not_grow_with_the_number_of_windows(tmp_path: Path) -> None:
    buffer = WindowBuffer()
    with RecordWriter(tmp_path) as writer:
        merger = WindowMerger(writer)
        for second in range(300):
            buffer.add("GET", "/a", OK, 1000, at=second + 0.5)
            merger.receive("a", buffer.close(now=second + 1.0), buffer.closed_until)
            merger.flush(now=second + 1.0)
            assert merger.pending_windows <= 1
    assert merger.windows_written == 300


def test_raw_samples_are_written_compressed(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "local.csv.gz"
    recorder = SampleRecorder(raw_path=raw)
    recorder.on_request(request_type="GET", name="/x", response_time=2.5, response=_response(200), exception=None)
    recorder.close_raw()
    with gzip.open(raw, "rt") as src:
        rows = list(csv.DictReader(src))
    assert [(r["name"], r["outcome"], r["latency_us"]) for r in rows] == [("GET /x", "ok", "2500")]


def test_recorded_percentiles_are_within_a_tenth_of_a_percent_of_the_exact_ones(tmp_path: Path) -> None:
    """Accuracy: 200k synthetic latencies (lognormal, 0.3 ms to minutes) through two recorders, the merger,
    the record file and back; p50/p95/p99 of the merged record against numpy's exact nearest-rank values."""
    rng = np.random.default_rng(7)
    samples_ms = rng.lognormal(mean=math.log(80), sigma=1.2, size=200_000)
    recorders = [SampleRecorder(), SampleRecorder()]
    for i, value in enumerate(samples_ms):
        recorders[i % 2].on_request(request_type="GET", name="/a", response_time=float(value),
                                    response=_response(200), exception=None, context={},
                                    start_time=1_000.0 + i * 1e-5)
    with RecordWriter(tmp_path) as writer:
        merger = WindowMerger(writer)
        for source, recorder in enumerate(recorders):
            recorder.final = True
            data = recorder.ship(now=0.0)
            merger.receive(str(source), data["windows"], math.inf)
        merger.flush(final=True)
    merged = Histogram()
    for record in _lines(tmp_path):
        merged.add(record.histogram)
    assert merged.count == samples_ms.size
    exact_us = np.rint(samples_ms * 1000.0)
    for p in (50, 95, 99):
        exact = float(np.percentile(exact_us, p, method="inverted_cdf"))
        recorded = merged.value_at_percentile(p)
        assert recorded is not None
        assert abs(recorded - exact) / exact <= 0.001, (p, recorded, exact)


def test_staged_samples_far_apart_in_time_keep_their_own_windows() -> None:
    """A clock step between two reports must not make settle walk every window in between."""
    recorder = SampleRecorder()
    for start in (1_000.0, 1_000_000_000.0):
        recorder.on_request(request_type="GET", name="/a", response_time=1.0, response=_response(200),
                            exception=None, context={}, start_time=start)
    recorder.final = True
    assert [w["t"] for w in recorder.ship(now=0.0)["windows"]] == [1_000.0, 1_000_000_000.0]


_SYNC_OFF_LOOP = """
import os
import gevent
from gevent.monkey import get_original
from locustfiles import plugin
os_thread = get_original("_thread", "get_ident")  # gevent's patched get_ident names greenlets
synced_in = []
real_fsync = os.fsync
os.fsync = lambda fd: (synced_in.append(os_thread()), real_fsync(fd))[1]
with open("record", "w") as f:
    f.write("x")
    f.flush()
    open_before = len(os.listdir("/proc/self/fd"))
    gevent.spawn(plugin._sync_off_loop, f.fileno()).get(timeout=10)
    assert len(os.listdir("/proc/self/fd")) == open_before, "the duplicate descriptor was left open"
assert len(synced_in) == 1 and synced_in[0] != os_thread(), "synced on the event loop's thread"
print("ok")
"""


def test_the_load_plugin_syncs_the_record_on_a_thread_and_leaves_no_descriptor(tmp_path: Path) -> None:
    # in a child: the plugin imports Locust, which monkey-patches the process
    done = subprocess.run([sys.executable, "-c", _SYNC_OFF_LOOP], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
