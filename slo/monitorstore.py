"""The synthetic monitor's long-lived record of one environment: every check's outcome and duration, kept for good.

Layout of `runs/monitor/<environment>/` (docs/monitoring.md, "The monitor's record"):

- `store.json`: format and environment; a record opened for another environment is refused.
- `raw/<UTC day>.jsonl`: one JSON line per check, filed by the day it started; each append is flushed and
  fsync'd before `append` returns, so a crash loses at most the check in progress. A torn last line (a crash
  mid-write) is moved to `torn.jsonl` on reopen, never dropped.
- Once a check has started an hour after a day ended (`CLOSE_AFTER_S`), the day is closed: its roll-ups are
  written, `rollup/1h/<day>.jsonl` and `rollup/1d/<day>.jsonl` (per check: checks, good checks and the latency
  histogram of the good ones in the run folder's histogram format, slo.histogram), and its raw lines are
  compressed into `raw/<day>.jsonl.gz`, losslessly. The one-minute roll-up is the raw day binned by minute:
  at the monitor's rates (one check a minute or fewer) a stored one would be as large as the raw lines.
- `gaps.jsonl`: spans the monitor was not running (crash, reboot), as `rxsuite monitor` reports them on resume.

Nothing is ever deleted: a quarter of one-a-minute checks of 50 kinds stays under 200 MB this way
(bench/monitor_quarter.py). Reading and judging the record is slo.monitorsource's.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import orjson

from rxcore.errors import RxError
from rxcore.files import write_text_atomic
from slo.histogram import BUCKET_COUNT, MAX_VALUE_US, SUB_BUCKET_BITS, bucket_index, encode_buckets

__all__ = ["CLOSE_AFTER_S", "DAY_S", "ROLLUP_STEPS", "CheckResult", "CheckTable", "MonitorStore", "MonitorStoreError",
           "close_day", "day_name", "day_start", "raw_days", "read_checks", "read_gaps", "rolled_up", "rollup_lines",
           "store_folder"]

FORMAT = "rxsuite-monitor/1"
RAW_FORMAT = "rxsuite-monitor-raw/1"
ROLLUP_FORMAT = "rxsuite-monitor-rollup/1"
STORE_FILE = "store.json"
GAPS_FILE = "gaps.jsonl"
TORN_FILE = "torn.jsonl"
LOCK_FILE = ".lock"
DAY_S = 86400
ROLLUP_STEPS = {"1h": 3600, "1d": DAY_S}
CLOSE_AFTER_S = 3600.0  # a day is closed once a check started this long after its end (late appends fit before)
_MAX_START = 4102444800.0  # 2100-01-01
HISTOGRAM_LAYOUT = {"layout": "log-linear", "sub_bucket_bits": SUB_BUCKET_BITS, "buckets": BUCKET_COUNT,
                    "max_us": MAX_VALUE_US}


class MonitorStoreError(RxError):
    """A record that cannot be opened or written: names the folder or file and the fix."""


@dataclass(frozen=True)
class CheckResult:
    """One check as the monitor ran it. started_at is kept to the millisecond, duration_s to the microsecond."""

    check: str            # stable check name, e.g. "api.sign-in", "journey.patient"
    started_at: float     # unix epoch seconds (UTC) when the check started
    duration_s: float     # seconds the check took
    ok: bool
    detail: str = ""      # short failure reason, "" when ok
    evidence: str | None = None  # path of kept evidence, relative to the store folder, or None


@dataclass
class CheckTable:
    """Checks as columns (what readers and roll-ups work on)."""

    names: list[str]
    check: npt.NDArray[np.int64]   # index into names
    started_at: npt.NDArray[np.float64]
    duration_s: npt.NDArray[np.float64]
    ok: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.started_at.size)

    @classmethod
    def empty(cls) -> CheckTable:
        return cls([], np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.bool_))


def store_folder(runs_dir: Path, environment: str) -> Path:
    """Where an environment's record lives: runs/monitor/<environment>."""
    return Path(runs_dir) / "monitor" / environment


def day_name(t: float) -> str:
    """The UTC day (YYYY-MM-DD) a time falls in: the file a check started then is filed under."""
    number = int(t // DAY_S)
    name = _DAY_NAMES.get(number)
    if name is None:
        name = _DAY_NAMES[number] = datetime.fromtimestamp(number * DAY_S, UTC).strftime("%Y-%m-%d")
    return name


_DAY_NAMES: dict[int, str] = {}


def day_start(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


class MonitorStore:
    """The long-lived, append-only record of one environment's checks (one writer process at a time: a lock file;
    its methods may be called from several threads)."""

    def __init__(self, folder: Path, environment: str) -> None:
        self.folder = Path(folder)
        self.environment = environment
        self._open_store()
        self._lock: IO[str] | None = open(self.folder / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise MonitorStoreError(f"{self.folder}: another process is writing this monitor record (is an "
                                    "`rxsuite monitor` still running for this environment?)") from None
        self._files: dict[str, IO[bytes]] = {}
        self._mutex = threading.Lock()
        self.torn_lines = 0
        for day in raw_days(self.folder):
            self.torn_lines += _save_torn_tail(self.folder, day)
            _finish_compaction(self.folder, day)
        self._newest = _newest_started_at(self.folder)
        self._close_days()

    # writing ---------------------------------------------------------------------------------------------
    def append(self, result: CheckResult) -> None:
        """Add one check; durable (flushed and fsync'd) when it returns. Closes days that are over."""
        line = _raw_line(result)
        with self._mutex:
            self._check_open()
            out = self._file(day_name(result.started_at))
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
            if self._newest is None or result.started_at > self._newest:
                self._newest = result.started_at
            self._close_days()

    def append_many(self, results: Sequence[CheckResult]) -> None:
        """The bulk path (imports, benchmarks): like `append` for each, with one fsync per day file."""
        by_day: dict[str, list[bytes]] = {}
        for result in results:
            by_day.setdefault(day_name(result.started_at), []).append(_raw_line(result))
        with self._mutex:
            self._check_open()
            for day, lines in sorted(by_day.items()):
                out = self._file(day)
                out.write(b"".join(lines))
                out.flush()
                os.fsync(out.fileno())
            if results:
                newest = max(r.started_at for r in results)
                self._newest = newest if self._newest is None else max(self._newest, newest)
            self._close_days()

    def record_gap(self, start: float, end: float, reason: str) -> None:
        """The monitor was not running from `start` to `end` (crash, reboot): shown as time not observed."""
        if not (math.isfinite(start) and math.isfinite(end) and end > start):
            raise ValueError(f"a gap must end after it starts (got {start} to {end})")
        line = orjson.dumps({"start": start, "end": end, "reason": reason}) + b"\n"
        with self._mutex:
            self._check_open()
            with open(self.folder / GAPS_FILE, "ab") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())

    def last_started_at(self) -> float | None:
        """The newest check on record (resume: the monitor says what it missed since)."""
        return self._newest

    def close(self) -> None:
        with self._mutex:
            for out in self._files.values():
                out.close()
            self._files.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> MonitorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # internals -------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._lock is None:
            raise ValueError(f"{self.folder}: the monitor record is closed")

    def _open_store(self) -> None:
        marker = self.folder / STORE_FILE
        if marker.is_file():
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MonitorStoreError(f"{marker}: unreadable ({exc}); it names the record's format and "
                                        "environment") from None
            found = data.get("format") if isinstance(data, dict) else data
            if found != FORMAT:
                raise MonitorStoreError(f"{marker}: field format: {found!r} is not supported; this version reads "
                                        f"{FORMAT!r}")
            if data.get("environment") != self.environment:
                raise MonitorStoreError(
                    f"{self.folder}: field environment: this monitor record belongs to environment "
                    f"{data.get('environment')!r}, not {self.environment!r} (use runs/monitor/{self.environment})")
            return
        if self.folder.is_dir() and any(self.folder.iterdir()):
            raise MonitorStoreError(f"{self.folder}: not a monitor record (no {STORE_FILE}) and not empty; choose an "
                                    f"empty folder or runs/monitor/{self.environment}")
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(marker, json.dumps({"format": FORMAT, "environment": self.environment,
                                              "created": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n")

    def _file(self, day: str) -> IO[bytes]:
        out = self._files.get(day)
        if out is None:
            path = self.folder / "raw" / f"{day}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            out = open(path, "ab")  # noqa: SIM115  closed in close() or when the day closes
            if out.tell() == 0:
                out.write(orjson.dumps({"format": RAW_FORMAT, "environment": self.environment, "day": day}) + b"\n")
            self._files[day] = out
        return out

    def _close_days(self) -> None:
        if self._newest is None:
            return
        horizon = self._newest - CLOSE_AFTER_S
        for day in raw_days(self.folder):
            if day_start(day) + DAY_S <= horizon and not rolled_up(self.folder, day):
                out = self._files.pop(day, None)
                if out is not None:
                    out.close()
                close_day(self.folder, self.environment, day)


# --- raw lines ---------------------------------------------------------------------------------------------------

def _raw_line(result: CheckResult) -> bytes:
    """The check's JSON line; started_at rounded to the millisecond, duration_s to the microsecond (k / 10^n is
    the double nearest the decimal, so it prints short)."""
    check, t, d = result.check, result.started_at, result.duration_s
    if not isinstance(check, str) or not 0 < len(check) <= 200:
        raise ValueError(f"check name {check!r}: must be a non-empty string of at most 200 characters")
    if not 0.0 <= t <= _MAX_START:  # NaN fails too
        raise ValueError(f"check {check}: started_at {t!r} is not a Unix time in seconds")
    if not 0.0 <= d < math.inf:
        raise ValueError(f"check {check}: duration_s {d!r} must be a finite number >= 0")
    row: dict[str, Any] = {"t": math.floor(t * 1e3 + 0.5) / 1e3, "check": check,
                           "d": math.floor(d * 1e6 + 0.5) / 1e6, "ok": bool(result.ok)}
    if result.detail:
        row["detail"] = result.detail
    if result.evidence is not None:
        row["evidence"] = result.evidence
    return orjson.dumps(row) + b"\n"


def raw_days(folder: Path) -> list[str]:
    """Days with raw lines (plain or compressed), oldest first."""
    names = {p.name.split(".", 1)[0] for p in (Path(folder) / "raw").glob("*.jsonl*")}
    return sorted(n for n in names if len(n) == 10)


def _save_torn_tail(folder: Path, day: str) -> int:
    """Move a partial last line (a crash mid-append) to torn.jsonl, then cut it off so appends stay whole."""
    path = folder / "raw" / f"{day}.jsonl"
    if not path.is_file():
        return 0
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(max(0, size - 65536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return 0
        cut = tail.rfind(b"\n")
        keep = size - len(tail) + cut + 1 if cut >= 0 else 0
        f.seek(keep)
        fragment = f.read()
        with open(folder / TORN_FILE, "ab") as torn:
            torn.write(orjson.dumps({"file": f"raw/{day}.jsonl", "offset": keep,
                                     "text": fragment.decode("utf-8", "replace")}) + b"\n")
            torn.flush()
            os.fsync(torn.fileno())
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gz_header(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rb") as f:
        header = orjson.loads(f.readline())
    return header if isinstance(header, dict) else {}


def plain_is_compacted(folder: Path, day: str) -> bool:
    """True when raw/<day>.jsonl is already inside raw/<day>.jsonl.gz (a compaction stopped before removing it)."""
    plain, packed = folder / "raw" / f"{day}.jsonl", folder / "raw" / f"{day}.jsonl.gz"
    if not (plain.is_file() and packed.is_file()):
        return False
    return _gz_header(packed).get("merged_plain_sha256") == _sha256(plain)


def _finish_compaction(folder: Path, day: str) -> None:
    if plain_is_compacted(folder, day):
        (folder / "raw" / f"{day}.jsonl").unlink()
        _sync_dir(folder / "raw")


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raw_lines(folder: Path, day: str) -> Iterator[bytes]:
    """The day's check lines (compressed part first, then the plain file), headers and a torn last line left out."""
    raw = Path(folder) / "raw"
    packed, plain = raw / f"{day}.jsonl.gz", raw / f"{day}.jsonl"
    if packed.is_file():
        with gzip.open(packed, "rb") as f:
            yield from f.read().splitlines(keepends=True)[1:]
    if plain.is_file() and not plain_is_compacted(folder, day):
        try:
            lines = plain.read_bytes().splitlines(keepends=True)[1:]
        except FileNotFoundError:  # compacted between the check and the open: the .gz part held it all
            return
        yield from (line for line in lines if line.endswith(b"\n"))


def read_checks(folder: Path, days: Sequence[str], keep: Callable[[float], bool] | None = None) -> CheckTable:
    """The checks of `days` as columns; with `keep`, only those whose start it accepts (decided from the line's
    leading `"t":` before the line is parsed, so reading a few hours of a day costs little)."""
    lines = [line for day in days for line in raw_lines(folder, day)]
    if keep is not None:
        lines = [line for line in lines if _keeps(line, keep)]
    return _table(lines, f"{folder}/raw: {', '.join(days)}")


def _keeps(line: bytes, keep: Callable[[float], bool]) -> bool:
    if line.startswith(b'{"t":'):
        end = line.find(b",", 5)
        try:
            return keep(float(line[5:end]))
        except ValueError:
            pass
    return True  # not the writer's shape: parsed, and refused or filtered later


def _table(lines: list[bytes], where: str) -> CheckTable:
    if not lines:
        return CheckTable.empty()
    try:
        rows = orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError:
        raise MonitorStoreError(f"{where}: a check line is not JSON (only a torn last line is allowed, and set "
                                "aside on open); the record is corrupt") from None
    names: dict[str, int] = {}
    try:
        check = np.fromiter((names.setdefault(r["check"], len(names)) for r in rows), np.int64, len(rows))
        started = np.fromiter((r["t"] for r in rows), np.float64, len(rows))
        duration = np.fromiter((r["d"] for r in rows), np.float64, len(rows))
        ok = np.fromiter((r["ok"] is True for r in rows), np.bool_, len(rows))
    except (KeyError, TypeError, ValueError) as exc:
        raise MonitorStoreError(f"{where}: a check line lacks t, check, d or ok "
                                f"({type(exc).__name__}: {exc}); the record is corrupt") from None
    return CheckTable(list(names), check, started, duration, ok)


# --- roll-ups ----------------------------------------------------------------------------------------------------

def rollup_lines(table: CheckTable, step_s: int) -> list[bytes]:
    """One line per (step, check): checks `n`, good checks `good`, and the histogram `h` of the good checks'
    durations (µs), in slo.histogram's payload form; a histogram merges by adding, so lines of one step add up."""
    if not len(table):
        return []
    bucket = np.floor(table.started_at / step_s).astype(np.int64)
    names = len(table.names)
    group_key = bucket * names + table.check
    groups, group_of = np.unique(group_key, return_inverse=True)
    n = np.bincount(group_of, minlength=groups.size)
    good = np.bincount(group_of, weights=table.ok, minlength=groups.size).astype(np.int64)
    values = np.clip(np.rint(table.duration_s[table.ok] * 1e6), 0, MAX_VALUE_US).astype(np.int64)
    ok_group = group_of[table.ok]
    keys, counts = np.unique(ok_group * BUCKET_COUNT + bucket_index(values), return_counts=True)
    bounds = np.searchsorted(keys // BUCKET_COUNT, np.arange(groups.size + 1))
    low = np.full(groups.size, MAX_VALUE_US + 1, dtype=np.int64)
    high = np.full(groups.size, -1, dtype=np.int64)
    np.minimum.at(low, ok_group, values)
    np.maximum.at(high, ok_group, values)
    total = np.bincount(ok_group, weights=values.astype(np.float64), minlength=groups.size)
    out = []
    for g in range(groups.size):
        k0, k1 = bounds[g], bounds[g + 1]
        has = good[g] > 0
        hist = {"n": int(good[g]), "min": int(low[g]) if has else None, "max": int(high[g]) if has else None,
                "sum": float(total[g]),
                **encode_buckets(keys[k0:k1] % BUCKET_COUNT, counts[k0:k1].astype(np.int64))}
        out.append(orjson.dumps({"t": int(groups[g] // names) * step_s, "d": step_s,
                                 "check": table.names[int(groups[g] % names)], "n": int(n[g]),
                                 "good": int(good[g]), "h": hist}) + b"\n")
    return out


def close_day(folder: Path, environment: str, day: str) -> None:
    """Write a day's roll-ups, then compress its raw lines; each file appears whole (atomic rename), and a
    compaction stopped half-way is finished or redone on the next open, never counted twice."""
    folder = Path(folder)
    lines = list(raw_lines(folder, day))
    plain = folder / "raw" / f"{day}.jsonl"
    table = _table(lines, f"{folder}/raw: {day}")
    for level, step in ROLLUP_STEPS.items():
        header = {"format": ROLLUP_FORMAT, "environment": environment, "day": day, "step_s": step,
                  "checks": len(table), "unit": "us", "histogram": HISTOGRAM_LAYOUT}
        text = orjson.dumps(header) + b"\n" + b"".join(rollup_lines(table, step))
        write_text_atomic(folder / "rollup" / level / f"{day}.jsonl", text.decode("utf-8"))
    header = {"format": RAW_FORMAT, "environment": environment, "day": day, "checks": len(lines),
              "merged_plain_sha256": _sha256(plain) if plain.is_file() else None}
    packed = folder / "raw" / f"{day}.jsonl.gz"
    tmp = packed.with_name(f".{packed.name}.tmp")
    with open(tmp, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=6, mtime=0) as z:
            z.write(orjson.dumps(header) + b"\n")
            z.write(b"".join(lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, packed)
    plain.unlink(missing_ok=True)
    _sync_dir(folder / "raw")


def rolled_up(folder: Path, day: str) -> bool:
    """True when the day's roll-ups stand for all of its checks (closed, and no check appended since)."""
    folder = Path(folder)
    if not all((folder / "rollup" / level / f"{day}.jsonl").is_file() for level in ROLLUP_STEPS):
        return False
    plain = folder / "raw" / f"{day}.jsonl"
    return not plain.exists() or plain_is_compacted(folder, day)


def _newest_started_at(folder: Path) -> float | None:
    for day in reversed(raw_days(folder)):
        table = read_checks(folder, [day])
        if len(table):
            return float(table.started_at.max())
    return None


def read_gaps(folder: Path) -> list[tuple[float, float, str]]:
    """The recorded gaps (start, end, reason), a torn last line skipped."""
    path = Path(folder) / GAPS_FILE
    if not path.is_file():
        return []
    gaps = []
    for line in path.read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue
        row = orjson.loads(line)
        gaps.append((float(row["start"]), float(row["end"]), str(row.get("reason", ""))))
    return gaps
