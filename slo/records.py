"""The run folder's latency/outcome record (`latency.jsonl`): one line per time window and request name.

The load recorder appends windows while the run goes on; the evaluator reads them back column-wise, keeping
histogram payloads compressed until a vectorised decoder needs them. See docs/run-folder.md for the format.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from slo.histogram import (
    BUCKET_COUNT,
    MAX_VALUE_US,
    PAIR_DTYPES,
    SUB_BUCKET_BITS,
    Histogram,
    decode_buckets,
    decode_keys,
)

RECORD_FILE = "latency.jsonl"
FORMAT = "rxsuite-latency/1"
OUTCOMES = ("ok", "http_4xx", "http_429", "http_5xx", "timeout", "connection_error")
_HEADER = {
    "format": FORMAT,
    "unit": "us",
    "histogram": {"layout": "log-linear", "sub_bucket_bits": SUB_BUCKET_BITS, "buckets": BUCKET_COUNT,
                  "max_us": MAX_VALUE_US},
    "outcomes": list(OUTCOMES),
}


TEST_ERROR_BOUND = 0.5


def too_many_test_errors(outcomes: dict[str, int], bound: float = TEST_ERROR_BOUND) -> str | None:
    """Why a run judges nothing, when more than `bound` of its requests were 4xx (the test's own errors: wrong
    credentials, a wrong path, a tag selecting tasks the accounts cannot do); None otherwise. A run of mostly
    test errors has so few valid requests that its SLO verdict, pass or fail, says nothing about the platform."""
    total = sum(outcomes.values())
    errors = outcomes.get("http_4xx", 0)
    if total and errors / total > bound:
        return (f"{errors} of {total} requests failed with 4xx, the test's own errors (more than {bound:.0%}): "
                "no verdict; check the credentials file, the environment's base_url and --tags")
    return None


class RecordError(ValueError):
    """A record file that cannot be read; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One time window of one request name. `histogram` holds the latencies of `ok` requests only."""

    start: float
    duration_s: float
    name: str
    outcomes: dict[str, int]
    histogram: Histogram
    source: str | None = None

    def to_line(self) -> str:
        unknown = set(self.outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcome(s) {sorted(unknown)}; allowed: {', '.join(OUTCOMES)}")
        if self.histogram.count != self.outcomes.get("ok", 0):
            raise ValueError(
                f"window {self.name!r}: histogram holds {self.histogram.count} latencies but ok="
                f"{self.outcomes.get('ok', 0)}; record the latency of every ok request and only those"
            )
        line: dict[str, Any] = {
            "t": self.start,
            "d": self.duration_s,
            "name": self.name,
            "o": [int(self.outcomes.get(k, 0)) for k in OUTCOMES],
            "h": self.histogram.to_dict(),
        }
        if self.source is not None:
            line["src"] = self.source
        return json.dumps(line, separators=(",", ":"), allow_nan=False)


class RecordWriter:
    """Appends windows to `<run_dir>/latency.jsonl`; every line is flushed, and fsync'd at least once a second.

    A crash loses at most the last second and may leave a torn last line, which readers skip and the next
    writer opening the file cuts off. `sync` makes the file durable given its descriptor (`os.fsync`); the load
    plugin passes one that waits on gevent's threadpool, so the disk wait does not stall the users.
    """

    def __init__(self, run_dir: Path, fsync_interval_s: float = 1.0,
                 sync: Callable[[int], None] = os.fsync) -> None:
        self.path = Path(run_dir) / RECORD_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  closed in close()
        self._lock = threading.Lock()
        self._fsync_interval_s = fsync_interval_s
        self.sync = sync
        self._last_sync = time.monotonic()
        if self.path.stat().st_size == 0:
            self._append(json.dumps(_HEADER, separators=(",", ":")), force_sync=True)

    def write_window(self, record: WindowRecord) -> None:
        self._append(record.to_line(), force_sync=False)

    def close(self) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, line: str, force_sync: bool) -> None:
        with self._lock:
            if self._file is None:
                raise ValueError(f"{self.path}: writer is closed")
            self._file.write(line + "\n")
            self._file.flush()
            now = time.monotonic()
            if force_sync or now - self._last_sync >= self._fsync_interval_s:
                self.sync(self._file.fileno())
                self._last_sync = now


def _cut_torn_tail(path: Path) -> None:
    """Truncate a partial last line left by a crash so appended lines stay whole."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = pos - step + newline + 1
                if keep != size:
                    f.truncate(keep)
                return
            pos -= step
        f.truncate(0)


@dataclass
class WindowTable:
    """All windows of one or more record files as columns; histograms stay compressed until decoded."""

    names: list[str]
    start: npt.NDArray[np.float64]
    duration: npt.NDArray[np.float64]
    name_id: npt.NDArray[np.int64]
    outcomes: npt.NDArray[np.int64]  # (windows, len(OUTCOMES))
    hist_i: npt.NDArray[np.int64]
    hist_k: npt.NDArray[np.int64]
    hist_w: npt.NDArray[np.int64]
    hist_min: npt.NDArray[np.int64]
    hist_max: npt.NDArray[np.int64]
    payloads: list[str]
    files: list[Path] = field(default_factory=list)
    torn_lines: int = 0

    def __len__(self) -> int:
        return int(self.start.size)

    def decode(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
        """Flat (row position within `rows`, bucket index, count) arrays for the histograms of `rows`."""
        parts = []
        for width in np.unique(self.hist_w[rows]).tolist():
            at = np.flatnonzero(self.hist_w[rows] == width)
            chosen = rows[at]
            pos, index, counts = decode_buckets([self.payloads[r] for r in chosen], self.hist_i[chosen],
                                                self.hist_k[chosen], width)
            parts.append((at[pos], index, counts))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))


    def decode_keys(self, rows: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64]
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
        """(offsets[i] + bucket index, count) for every bucket of rows[i] (see histogram.decode_keys)."""
        keys, counts = [], []
        for width in np.unique(self.hist_w[rows]).tolist():
            at = np.flatnonzero(self.hist_w[rows] == width)
            chosen = rows[at]
            k, c = decode_keys([self.payloads[r] for r in chosen], self.hist_i[chosen], self.hist_k[chosen], width,
                               offsets[at])
            keys.append(k)
            counts.append(c)
        if len(keys) == 1:
            return keys[0], counts[0]
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(keys), np.concatenate([c.astype(np.float64) for c in counts])


def record_files(run_dir: Path) -> list[Path]:
    path = Path(run_dir) / RECORD_FILE
    return [path] if path.is_file() else []


def load_table(paths: Sequence[Path]) -> WindowTable:
    """Read record files into one table; a torn last line is skipped, any other bad line is an error.

    Lines are parsed in batches (one json.loads per batch) and turned into columns with comprehensions;
    only when a batch fails its checks is it re-read line by line to name the bad line and field.
    """
    columns = _Columns()
    torn = 0
    for path in paths:
        try:
            for first_line, batch, torn_here in _batches(path):
                torn += torn_here
                try:
                    rows = json.loads("[" + ",".join(batch) + "]")
                except (ValueError, RecursionError):
                    rows = [_parse_line(path, first_line + i, text) for i, text in enumerate(batch)]
                try:
                    columns.add_batch(rows)
                except (_FieldError, *_BAD_ROW):
                    _explain_bad_row(path, first_line, rows)
                    raise
        except UnicodeDecodeError as exc:
            raise RecordError(f"{path}: byte 0x{exc.object[exc.start]:02x} is not UTF-8; the record is corrupt "
                              "(rxsuite writes UTF-8 JSON lines)") from None
    return columns.table(list(paths), torn)


# what a line of the wrong shape raises while its batch is turned into columns
_BAD_ROW = (KeyError, TypeError, AttributeError, ValueError, OverflowError, IndexError)
_MAX_START = 4102444800.0  # 2100-01-01: a window start beyond it is corrupt, not a time
_MAX_WINDOW_S = 86400.0


_BATCH_LINES = 4096


def _batches(path: Path) -> Iterator[tuple[int, list[str], int]]:
    """(line number of the first line, lines, torn lines skipped) after checking the header line."""
    with open(path, encoding="utf-8") as f:
        header = f.readline()
        if not header:
            return
        if not header.endswith("\n"):
            try:
                json.loads(header)
            except ValueError:
                return  # torn header: the run died before its first window
        _check_header(path, header)
        first_line = 2
        while batch := list(islice(f, _BATCH_LINES)):
            torn = 0
            if not batch[-1].endswith("\n"):
                try:
                    json.loads(batch[-1])
                except ValueError:
                    batch.pop()
                    torn = 1
            yield first_line, batch, torn  # json.loads ignores the trailing newlines
            first_line += len(batch) + torn


def _explain_bad_row(path: Path, first_line: int, rows: list[Any]) -> None:
    """Raise a RecordError naming the first bad line of a batch that failed the fast checks."""
    probe = _Columns()
    for i, row in enumerate(rows):
        try:
            probe.add_batch([row])
        except _FieldError as exc:
            raise RecordError(f"{path}:{first_line + i}: field {exc.field}: {exc.message}") from None
        except _BAD_ROW as exc:
            raise RecordError(f"{path}:{first_line + i}: not a window line ({type(exc).__name__}: {exc}); "
                              "fields t, d, name, o, h are required, see docs/run-folder.md") from None


class _Columns:
    """Column builders for load_table: one numpy array per field and batch."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.parts: dict[str, list[npt.NDArray[Any]]] = {
            k: [] for k in ("t", "d", "name", "o", "i", "k", "w", "min", "max")}
        self.payloads: list[str] = []

    def add_batch(self, rows: list[dict[str, Any]]) -> None:
        hists = [r["h"] for r in rows]
        wrong_outcomes = _FieldError("o", f"must list {len(OUTCOMES)} counts in this order: {', '.join(OUTCOMES)}")
        try:
            outcomes = np.array([r["o"] for r in rows], dtype=np.int64)
        except (TypeError, ValueError):
            raise wrong_outcomes from None
        if outcomes.shape != (len(rows), len(OUTCOMES)):
            raise wrong_outcomes
        if (outcomes < 0).any():
            raise _FieldError("o", "outcome counts must be whole numbers >= 0")
        n = np.array([h["n"] for h in hists], dtype=np.int64)
        if (n != outcomes[:, 0]).any():
            raise _FieldError("h.n", "the histogram count must equal o.ok (latencies of ok requests only)")
        widths = np.array([h["w"] for h in hists], dtype=np.int64)
        if not np.isin(widths, list(PAIR_DTYPES)).all():
            raise _FieldError("h.w", f"not a payload layout; allowed: {sorted(PAIR_DTYPES)}")
        names = [r["name"] for r in rows]
        if not all(isinstance(name, str) and name for name in set(names)):
            raise _FieldError("name", "must be a non-empty string (the request name)")
        pairs = _check_payload_sizes(hists, widths)
        starts = _numbers([r["t"] for r in rows], "t")
        if not ((starts >= 0) & (starts <= _MAX_START)).all():
            raise _FieldError("t", "must be the window start in Unix seconds (finite, between 1970 and 2100)")
        durations = _numbers([r["d"] for r in rows], "d")
        if not ((durations > 0) & (durations <= _MAX_WINDOW_S)).all():
            raise _FieldError("d", f"must be the window length in seconds (finite, > 0, <= {_MAX_WINDOW_S:g})")
        has = n > 0
        self.parts["t"].append(starts)
        self.parts["d"].append(durations)
        self.parts["name"].append(np.array([self.names.setdefault(x, len(self.names)) for x in names], dtype=np.int64))
        self.parts["o"].append(outcomes)
        self.parts["i"].append(np.array([h["i"] for h in hists], dtype=np.int64))
        self.parts["k"].append(pairs)
        self.parts["w"].append(widths)
        self.parts["min"].append(np.where(has, np.array([h["min"] or 0 for h in hists], dtype=np.int64), 0))
        self.parts["max"].append(np.where(has, np.array([h["max"] or 0 for h in hists], dtype=np.int64), 0))
        self.payloads.extend([h["b"] for h in hists])

    def table(self, files: list[Path], torn: int) -> WindowTable:
        def column(key: str, dtype: Any, width: int = 0) -> npt.NDArray[Any]:
            parts = self.parts[key]
            if parts:
                return np.concatenate(parts)
            return np.zeros((0, width) if width else 0, dtype=dtype)

        return WindowTable(
            names=list(self.names),
            start=column("t", np.float64),
            duration=column("d", np.float64),
            name_id=column("name", np.int64),
            outcomes=column("o", np.int64, len(OUTCOMES)),
            hist_i=column("i", np.int64),
            hist_k=column("k", np.int64),
            hist_w=column("w", np.int64),
            hist_min=column("min", np.int64),
            hist_max=column("max", np.int64),
            payloads=self.payloads,
            files=files,
            torn_lines=torn,
        )


def _check_payload_sizes(hists: list[dict[str, Any]], widths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The bucket counts `k`, each matching its payload's base64 length (cheap: a cut or padded payload is named by
    its line here; anything subtler fails the decoder, which the evaluator reports as one line)."""
    pairs = np.array([h["k"] for h in hists], dtype=np.int64)
    if (pairs < 0).any() or (pairs > BUCKET_COUNT).any():
        raise _FieldError("h.k", f"the bucket count must be 0 to {BUCKET_COUNT}")
    itemsize = np.zeros_like(widths)
    for width, dtype in PAIR_DTYPES.items():
        itemsize[widths == width] = np.dtype(dtype).itemsize
    expected = 4 * -(-(pairs * itemsize) // 3)
    if (np.array([len(h["b"]) for h in hists], dtype=np.int64) != expected).any():
        raise _FieldError("h.b", "the payload's length does not match its bucket count k; the record is corrupt")
    return pairs


def _numbers(values: list[Any], field_name: str) -> npt.NDArray[np.float64]:
    """A float column of finite numbers (JSON's NaN and Infinity, booleans and strings refused)."""
    given = np.asarray(values)
    if given.dtype.kind not in "iuf":
        raise _FieldError(field_name, "must be a number")
    column = given.astype(np.float64)
    if not np.isfinite(column).all():
        raise _FieldError(field_name, "must be a finite number (not NaN or Infinity)")
    return column


def _parse_line(path: Path, lineno: int, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RecordError(f"{path}:{lineno}: not JSON (a torn line is only allowed at the end)") from None


def merge_by_name(run_dir: Path) -> dict[str, tuple[dict[str, int], Histogram]]:
    """Outcome counts and merged histogram per request name over the whole record (vectorised)."""
    table = load_table(record_files(run_dir))
    names = len(table.names)
    if not len(table):
        return {}
    keys, counts = table.decode_keys(np.arange(len(table)), table.name_id * BUCKET_COUNT)
    dense = np.bincount(keys, weights=counts, minlength=names * BUCKET_COUNT).reshape(names, BUCKET_COUNT)
    out = {}
    for i, name in enumerate(table.names):
        mine = (table.name_id == i) & (table.outcomes[:, 0] > 0)
        totals = table.outcomes[table.name_id == i].sum(axis=0)
        hist = Histogram.from_counts(dense[i].astype(np.int64),
                                     minimum=int(table.hist_min[mine].min()) if mine.any() else None,
                                     maximum=int(table.hist_max[mine].max()) if mine.any() else None)
        out[name] = ({k: int(v) for k, v in zip(OUTCOMES, totals, strict=True)}, hist)
    return out


def iter_windows(run_dir: Path) -> Iterator[WindowRecord]:
    """Each window with its histogram decoded and its nonzero outcome counts (convenient, not fast)."""
    for path in record_files(run_dir):
        for first_line, batch, _ in _batches(path):
            for i, text in enumerate(batch):
                row = _parse_line(path, first_line + i, text)
                yield WindowRecord(
                    start=row["t"], duration_s=row["d"], name=row["name"],
                    outcomes={k: v for k, v in zip(OUTCOMES, row["o"], strict=True) if v},
                    histogram=Histogram.from_dict(row["h"]), source=row.get("src"),
                )


class _FieldError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _check_header(path: Path, text: str) -> None:
    try:
        header = json.loads(text)
    except ValueError:
        raise RecordError(f"{path}:1: the first line must be the JSON header with format {FORMAT!r}") from None
    fmt = header.get("format") if isinstance(header, dict) else None
    if fmt != FORMAT:
        raise RecordError(f"{path}:1: field format: {fmt!r} is not supported; this version reads {FORMAT!r}")
    if header.get("outcomes") != list(OUTCOMES):
        raise RecordError(f"{path}:1: field outcomes: {header.get('outcomes')} differs from {list(OUTCOMES)}")
    layout = header.get("histogram", {})
    if layout.get("sub_bucket_bits") != SUB_BUCKET_BITS or layout.get("buckets") != BUCKET_COUNT:
        raise RecordError(
            f"{path}:1: field histogram: layout {layout} differs from sub_bucket_bits={SUB_BUCKET_BITS}, "
            f"buckets={BUCKET_COUNT}"
        )
