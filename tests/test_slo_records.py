"""The latency/outcome record: durable appends, crash tolerance, vectorised reading, clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from slo.histogram import Histogram, bucket_index
from slo.records import (
    RECORD_FILE,
    RecordError,
    RecordWriter,
    WindowRecord,
    iter_windows,
    load_table,
    merge_by_name,
)


def _window(start: float, name: str, latencies: list[int], **errors: int) -> WindowRecord:
    hist = Histogram()
    hist.record_many(latencies)
    return WindowRecord(start=start, duration_s=1.0, name=name, outcomes={"ok": len(latencies), **errors},
                        histogram=hist, source="worker-1")


def test_windows_read_back_as_written(tmp_path: Path) -> None:
    written = [_window(100.0, "GET /a", [1000, 2000]), _window(101.0, "GET /b", [5], http_5xx=2)]
    with RecordWriter(tmp_path) as writer:
        for w in written:
            writer.write_window(w)
    assert list(iter_windows(tmp_path)) == written


def test_the_writer_makes_its_file_durable_through_the_sync_it_was_given(tmp_path: Path) -> None:
    synced: list[str] = []

    def sync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        os.fsync(fd)

    with RecordWriter(tmp_path, fsync_interval_s=0.0, sync=sync) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000]))
    # the header line, then the window (every line, at a zero interval)
    assert synced == [str(writer.path.resolve())] * 2


def test_table_columns_and_decoded_buckets_match_the_windows(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000, 1000, 70_000], timeout=1))
        writer.write_window(_window(101.0, "GET /b", [], connection_error=3))
    table = load_table([tmp_path / RECORD_FILE])
    assert table.names == ["GET /a", "GET /b"]
    assert table.outcomes.tolist() == [[3, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 3]]
    position, index, counts = table.decode(np.arange(2))
    assert position.tolist() == [0, 0] and counts.tolist() == [2, 1]
    assert index.tolist() == [1000, int(bucket_index([70_000])[0])]


def test_merging_by_name_adds_every_window(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000, 5000], http_5xx=1))
        writer.write_window(_window(100.0, "GET /a", [7000], timeout=2))  # a second worker, same window
        writer.write_window(_window(101.0, "GET /b", [300]))
    merged = merge_by_name(tmp_path)
    outcomes, hist = merged["GET /a"]
    assert (outcomes["ok"], outcomes["http_5xx"], outcomes["timeout"]) == (3, 1, 2)
    expected = Histogram()
    expected.record_many([1000, 5000, 7000])
    assert hist == expected and merged["GET /b"][1].count == 1


def test_a_torn_last_line_is_skipped_and_cut_by_the_next_writer(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000]))
    path = tmp_path / RECORD_FILE
    with open(path, "a") as f:
        f.write('{"t": 101.0, "d": 1.0, "na')  # the process died mid-write
    table = load_table([path])
    assert (len(table), table.torn_lines) == (1, 1)
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(102.0, "GET /a", [3000]))
    assert [w.start for w in iter_windows(tmp_path)] == [100.0, 102.0]


def test_a_bad_line_in_the_middle_names_its_line(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000]))
    path = tmp_path / RECORD_FILE
    with open(path, "a") as f:
        f.write("not json\n")
        f.write(_window(101.0, "GET /a", [1000]).to_line() + "\n")
    with pytest.raises(RecordError, match=r"latency.jsonl:3: not JSON"):
        load_table([path])


def test_a_short_outcome_list_names_the_field_and_the_order(tmp_path: Path) -> None:
    with RecordWriter(tmp_path) as writer:
        writer.write_window(_window(100.0, "GET /a", [1000]))
    path = tmp_path / RECORD_FILE
    line = json.loads(_window(101.0, "GET /a", [1000]).to_line())
    line["o"] = line["o"][:5]
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
    with pytest.raises(RecordError, match=r":3: field o: must list 6 counts in this order: ok, http_4xx, http_429"):
        load_table([path])


def test_an_unknown_outcome_is_refused_at_write() -> None:
    record = _window(1.0, "x", [1000], http_418=1)
    with pytest.raises(ValueError, match="unknown outcome"):
        record.to_line()


def test_a_histogram_that_disagrees_with_the_ok_count_is_refused_at_write() -> None:
    hist = Histogram()
    hist.record(1000)
    record = WindowRecord(start=1.0, duration_s=1.0, name="x", outcomes={"ok": 2}, histogram=hist)
    with pytest.raises(ValueError, match="histogram holds 1 latencies but ok=2"):
        record.to_line()


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / RECORD_FILE
    path.write_text('{"format": "rxsuite-latency/9"}\n')
    with pytest.raises(RecordError, match=r":1: field format: 'rxsuite-latency/9' is not supported"):
        load_table([path])
