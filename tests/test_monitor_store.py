"""The monitor's record (slo/monitorstore.py): durable appends, reopening, torn lines, other environments refused,
roll-ups equal to the raw checks, lossless compression of closed days, interrupted compactions counted once."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from slo.histogram import Histogram
from slo.monitorstore import (
    DAY_S,
    CheckResult,
    MonitorStore,
    MonitorStoreError,
    close_day,
    read_checks,
    read_gaps,
    rolled_up,
    store_folder,
)

T0 = 1704067200.0  # 2024-01-01T00:00:00Z
DAY1, DAY2, DAY3 = "2024-01-01", "2024-01-02", "2024-01-03"


def _checks(days: float, names: tuple[str, ...] = ("api.sign-in", "api.renewal")) -> list[CheckResult]:
    """One check of each name a minute; every 37th fails; durations known to the microsecond."""
    out = []
    for minute in range(int(days * 1440)):
        for k, name in enumerate(names):
            i = minute * len(names) + k
            out.append(CheckResult(name, T0 + minute * 60 + 0.25 * k, (100 + i % 50) * 0.001 + 0.000007,
                                   i % 37 != 0, "" if i % 37 else "HTTP 503"))
    return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return store_folder(tmp_path / "runs", "staging")


def test_store_folder_is_runs_monitor_env(tmp_path: Path) -> None:
    assert store_folder(tmp_path, "staging") == tmp_path / "monitor" / "staging"


def test_each_append_is_one_whole_line_on_disk(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.append(CheckResult("api.sign-in", T0 + 1.5, 0.25, True))
        store.append(CheckResult("api.renewal", T0 + 2.5, 1.5, False, "HTTP 503", "evidence/1"))
        lines = (folder / "raw" / f"{DAY1}.jsonl").read_text().splitlines()  # read while still open
    assert [json.loads(line) for line in lines[1:]] == [
        {"t": T0 + 1.5, "check": "api.sign-in", "d": 0.25, "ok": True},
        {"t": T0 + 2.5, "check": "api.renewal", "d": 1.5, "ok": False, "detail": "HTTP 503",
         "evidence": "evidence/1"}]
    assert json.loads(lines[0])["environment"] == "staging"


def test_reopening_continues_where_the_record_stopped(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        assert store.last_started_at() is None
        store.append(CheckResult("api.sign-in", T0 + 10, 0.2, True))
        store.append(CheckResult("api.sign-in", T0 + 70, 0.2, True))
    with MonitorStore(folder, "staging") as store:
        assert store.last_started_at() == T0 + 70
        store.append(CheckResult("api.sign-in", T0 + 130, 0.2, True))
    assert read_checks(folder, [DAY1]).started_at.tolist() == [T0 + 10, T0 + 70, T0 + 130]


def test_a_torn_last_line_is_set_aside_and_later_appends_work(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.append(CheckResult("api.sign-in", T0 + 10, 0.2, True))
    raw = folder / "raw" / f"{DAY1}.jsonl"
    with open(raw, "ab") as f:
        f.write(b'{"t":1704067270.0,"check":"api.sig')  # a crash mid-append
    assert read_checks(folder, [DAY1]).started_at.tolist() == [T0 + 10]  # readers skip it
    with MonitorStore(folder, "staging") as store:
        assert store.torn_lines == 1
        assert store.last_started_at() == T0 + 10
        store.append(CheckResult("api.renewal", T0 + 130, 0.3, False, "timeout"))
    table = read_checks(folder, [DAY1])
    assert table.started_at.tolist() == [T0 + 10, T0 + 130]
    assert [table.names[i] for i in table.check] == ["api.sign-in", "api.renewal"]
    kept = json.loads((folder / "torn.jsonl").read_text())
    assert kept["text"] == '{"t":1704067270.0,"check":"api.sig' and kept["file"] == f"raw/{DAY1}.jsonl"


def test_another_environments_record_is_refused(folder: Path) -> None:
    MonitorStore(folder, "staging").close()
    with pytest.raises(MonitorStoreError, match="belongs to environment 'staging', not 'production'"):
        MonitorStore(folder, "production")


def test_a_folder_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MonitorStoreError, match="not a monitor record"):
        MonitorStore(tmp_path, "staging")


def test_a_second_writer_is_refused(folder: Path) -> None:
    with MonitorStore(folder, "staging"), pytest.raises(MonitorStoreError, match="another process is writing"):
        MonitorStore(folder, "staging")


def test_gaps_are_recorded(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.record_gap(T0 + 100, T0 + 400, "restarted after a crash")
    assert read_gaps(folder) == [(T0 + 100, T0 + 400, "restarted after a crash")]


def test_closed_days_are_rolled_up_and_compressed_losslessly(folder: Path) -> None:
    checks = _checks(2.1)
    with MonitorStore(folder, "staging") as store:
        store.append_many(checks)
    assert rolled_up(folder, DAY1) and rolled_up(folder, DAY2)  # closed: a check started over an hour after
    assert not rolled_up(folder, DAY3)  # the open day
    assert not (folder / "raw" / f"{DAY1}.jsonl").exists()
    with gzip.open(folder / "raw" / f"{DAY1}.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f.readlines()[1:]]
    first_day = [c for c in checks if c.started_at < T0 + DAY_S]
    assert [(r["check"], r["t"], r["d"], r["ok"], r.get("detail", "")) for r in rows] == \
        [(c.check, c.started_at, round(c.duration_s, 6), c.ok, c.detail) for c in first_day]


@pytest.mark.parametrize(("level", "step"), [("1h", 3600), ("1d", DAY_S)])
def test_rollups_equal_the_raw_checks(folder: Path, level: str, step: int) -> None:
    checks = _checks(2.1)
    with MonitorStore(folder, "staging") as store:
        store.append_many(checks)
    truth: dict[tuple[float, str], list[CheckResult]] = defaultdict(list)
    for c in checks:
        if c.started_at < T0 + DAY_S:
            truth[(T0 + (c.started_at - T0) // step * step, c.check)].append(c)
    lines = (folder / "rollup" / level / f"{DAY1}.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["checks"] == sum(len(v) for v in truth.values())
    seen = {}
    for line in lines[1:]:
        row = json.loads(line)
        seen[(row["t"], row["check"])] = row
    assert set(seen) == set(truth)
    for key, group in truth.items():
        row = seen[key]
        expected = Histogram()
        expected.record_many(np.array([c.duration_s for c in group if c.ok]) * 1e6)
        assert (row["n"], row["good"]) == (len(group), sum(c.ok for c in group))
        assert Histogram.from_dict(row["h"]) == expected


def test_a_late_check_for_a_closed_day_is_counted_once(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.append_many(_checks(2.1))
        before = json.loads((folder / "rollup" / "1d" / f"{DAY1}.jsonl").read_text().splitlines()[0])["checks"]
        store.append(CheckResult("api.sign-in", T0 + 5, 0.1, True))
    assert rolled_up(folder, DAY1)
    header = json.loads((folder / "rollup" / "1d" / f"{DAY1}.jsonl").read_text().splitlines()[0])
    assert header["checks"] == before + 1 == len(read_checks(folder, [DAY1]))


def test_a_compaction_stopped_before_removing_the_plain_file_is_not_counted_twice(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.append_many(_checks(0.5))
    plain = folder / "raw" / f"{DAY1}.jsonl"
    shutil.copy(plain, folder / "plain.bak")
    close_day(folder, "staging", DAY1)
    shutil.copy(folder / "plain.bak", plain)  # as if the crash came between writing the .gz and the unlink
    assert len(read_checks(folder, [DAY1])) == 720 * 2 and rolled_up(folder, DAY1)
    MonitorStore(folder, "staging").close()
    assert not plain.exists()


def test_missing_rollups_are_rebuilt_from_the_raw_lines_on_open(folder: Path) -> None:
    with MonitorStore(folder, "staging") as store:
        store.append_many(_checks(2.1))
    hourly = folder / "rollup" / "1h" / f"{DAY1}.jsonl"
    before = hourly.read_text()
    hourly.unlink()
    assert not rolled_up(folder, DAY1)
    MonitorStore(folder, "staging").close()
    assert hourly.read_text() == before


@pytest.mark.parametrize("bad", [CheckResult("", T0, 0.1, True), CheckResult("api.x", float("nan"), 0.1, True),
                                 CheckResult("api.x", T0, -1.0, True), CheckResult("api.x", T0, float("inf"), True)],
                         ids=["no-name", "nan-start", "negative-duration", "infinite-duration"])
def test_a_malformed_check_is_refused_before_anything_is_written(folder: Path, bad: CheckResult) -> None:
    with MonitorStore(folder, "staging") as store, pytest.raises(ValueError):
        store.append(bad)
    assert not (folder / "raw").exists()


def test_a_closed_store_refuses_appends(folder: Path) -> None:
    store = MonitorStore(folder, "staging")
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.append(CheckResult("api.sign-in", T0, 0.1, True))
