"""Log-linear latency histogram with 3 significant digits (HDR-style), in integer microseconds.

Layout: values below 2,048 µs each have their own bucket; above, every power-of-two range [2^e, 2^(e+1))
is split into 1,024 equal buckets, so a bucket is never wider than 1/1,024 of its lowest value (< 0.1 %).
The layout is fixed (23,552 buckets, 0 µs to 2^32-1 µs ≈ 71.6 min), so histograms from any worker, window or
run merge by adding count arrays, and the module-level functions work on whole arrays of bucket indexes.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

from slo.percentile import nearest_rank

SUB_BUCKET_BITS = 11
SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS  # 2048: exact buckets below this value
HALF_COUNT = SUB_BUCKET_COUNT // 2  # 1024 buckets per power-of-two range above it
MAX_VALUE_US = (1 << 32) - 1
BUCKET_COUNT = (32 - SUB_BUCKET_BITS) * HALF_COUNT + SUB_BUCKET_COUNT  # 23552


def bucket_index(values_us: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bucket index of each value (rounded to whole µs, clamped to [0, MAX_VALUE_US])."""
    v = np.clip(np.rint(np.asarray(values_us, dtype=np.float64)), 0, MAX_VALUE_US).astype(np.int64)
    _, exponent = np.frexp(v.astype(np.float64))  # bit length for v >= 1, 0 for v == 0
    shift = np.maximum(exponent - SUB_BUCKET_BITS, 0)
    index: npt.NDArray[np.int64] = shift * HALF_COUNT + (v >> shift)
    return index


def bucket_lowest(index: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Smallest value (µs) that falls in each bucket."""
    i = np.asarray(index, dtype=np.int64)
    shift = np.maximum(i // HALF_COUNT - 1, 0)
    lowest: npt.NDArray[np.int64] = (i - shift * HALF_COUNT) << shift
    return lowest


def bucket_highest(index: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Largest value (µs) that falls in each bucket."""
    i = np.asarray(index, dtype=np.int64)
    shift = np.maximum(i // HALF_COUNT - 1, 0)
    return bucket_lowest(i) + (np.int64(1) << shift) - 1


def bucket_middle(index: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Midpoint (µs) of each bucket, used where a single representative value is needed (means)."""
    return (bucket_lowest(index) + bucket_highest(index)) / 2.0


def index_at_ranks(counts: npt.NDArray[Any], ranks: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bucket index holding each 1-based rank of a dense count array (ranks must be in 1..total)."""
    cumulative = np.cumsum(counts, dtype=np.int64)
    return np.searchsorted(cumulative, np.asarray(ranks, dtype=np.int64), side="left").astype(np.int64)


class Histogram:
    """A mergeable latency histogram; `record` is cheap enough to call per request."""

    __slots__ = ("_dense", "_max", "_min", "_pending", "_sum", "_total")

    def __init__(self) -> None:
        self._dense: npt.NDArray[np.int64] = np.zeros(BUCKET_COUNT, dtype=np.int64)
        self._pending: dict[int, int] = {}  # recent single records, folded into _dense when read
        self._total = 0
        self._sum = 0.0
        self._min = MAX_VALUE_US + 1
        self._max = -1

    # recording -------------------------------------------------------------------------------------------
    def record(self, value_us: float, count: int = 1) -> None:
        """Record one latency (µs); plain Python on a dict, about a microsecond, for per-request use."""
        v = round(float(value_us))  # float(): numpy scalars round to numpy ints, without bit_length
        if v < 0:
            v = 0
        elif v > MAX_VALUE_US:
            v = MAX_VALUE_US
        shift = v.bit_length() - SUB_BUCKET_BITS
        index = v if shift <= 0 else shift * HALF_COUNT + (v >> shift)
        pending = self._pending
        pending[index] = pending.get(index, 0) + count
        self._total += count
        self._sum += v * count
        if v < self._min:
            self._min = v
        if v > self._max:
            self._max = v

    def _flushed(self) -> npt.NDArray[np.int64]:
        if self._pending:
            index = np.fromiter(self._pending.keys(), dtype=np.int64, count=len(self._pending))
            self._dense[index] += np.fromiter(self._pending.values(), dtype=np.int64, count=len(self._pending))
            self._pending.clear()
        return self._dense

    def record_many(self, values_us: npt.ArrayLike) -> None:
        v = np.clip(np.rint(np.asarray(values_us, dtype=np.float64)), 0, MAX_VALUE_US)
        if v.size == 0:
            return
        dense = self._flushed()
        dense += np.bincount(bucket_index(v), minlength=BUCKET_COUNT)
        self._total += int(v.size)
        self._sum += float(v.sum())
        self._min = min(self._min, int(v.min()))
        self._max = max(self._max, int(v.max()))

    def add(self, other: Histogram) -> None:
        """Merge `other` into this histogram (exact: same bucket layout everywhere)."""
        if other._total == 0:
            return
        dense = self._flushed()
        dense += other._flushed()
        self._total += other._total
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @classmethod
    def from_counts(
        cls,
        counts: npt.ArrayLike,
        minimum: int | None = None,
        maximum: int | None = None,
        total_us: float | None = None,
    ) -> Histogram:
        """Build from a dense count array; min/max/sum default to bucket bounds and midpoints when unknown."""
        hist = cls()
        dense = np.asarray(counts, dtype=np.int64)
        if dense.shape != (BUCKET_COUNT,) or (dense < 0).any():
            raise ValueError(f"counts must be {BUCKET_COUNT} non-negative integers")
        hist._dense = dense.copy()
        hist._total = int(dense.sum())
        if hist._total:
            nonzero = np.flatnonzero(dense)
            hist._min = int(bucket_lowest(nonzero[0])) if minimum is None else int(minimum)
            hist._max = int(bucket_highest(nonzero[-1])) if maximum is None else int(maximum)
            hist._sum = float(dense[nonzero] @ bucket_middle(nonzero)) if total_us is None else float(total_us)
        return hist

    # reading ---------------------------------------------------------------------------------------------
    @property
    def counts(self) -> npt.NDArray[np.int64]:
        """Dense per-bucket counts (a read-only view)."""
        view = self._flushed().view()
        view.flags.writeable = False
        return view

    @property
    def count(self) -> int:
        return self._total

    @property
    def min(self) -> int | None:
        return self._min if self._total else None

    @property
    def max(self) -> int | None:
        return self._max if self._total else None

    @property
    def mean(self) -> float | None:
        return self._sum / self._total if self._total else None

    @property
    def sum(self) -> float:
        return self._sum

    def value_at_percentile(self, percentile: float) -> int | None:
        """Highest value equivalent to the sample of the nearest rank (slo.percentile), clamped to min/max seen."""
        if not self._total:
            return None
        return self.value_at_rank(nearest_rank(percentile, self._total))

    def value_at_rank(self, rank: int, lowest: bool = False) -> int:
        """Value of the sample with 1-based `rank`: the bucket's highest (or lowest) equivalent value."""
        rank = min(max(rank, 1), self._total)
        index = index_at_ranks(self._flushed(), [rank])
        value = int(bucket_lowest(index)[0] if lowest else bucket_highest(index)[0])
        return min(max(value, self._min), self._max)

    # serialisation ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Compact JSON form: exact n/min/max/sum plus the nonzero buckets (see encode_buckets)."""
        nonzero = np.flatnonzero(self._flushed())
        return {"n": self._total, "min": self.min, "max": self.max, "sum": self._sum,
                **encode_buckets(nonzero, self._flushed()[nonzero])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        _, index, counts = decode_buckets([data["b"]], [data["i"]], [data["k"]], data["w"])
        dense = np.zeros(BUCKET_COUNT, dtype=np.int64)
        np.add.at(dense, index, counts)
        hist = cls.from_counts(dense)
        if hist._total != data["n"]:
            raise ValueError(f"histogram payload holds {hist._total} values but says n={data['n']}")
        if hist._total:
            hist._min, hist._max, hist._sum = int(data["min"]), int(data["max"]), float(data["sum"])
        return hist

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Histogram)
            and self._total == other._total
            and self.min == other.min
            and self.max == other.max
            and bool(np.array_equal(self._flushed(), other._flushed()))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Histogram(count={self._total}, min={self.min}, max={self.max})"


# Payload layouts, named by pair size in bytes: a pair is (bucket index delta, count), little-endian. Pair
# sizes times pair counts are always multiples of 3 bytes (layout 2 pads with zero pairs), so base64 texts of
# payloads never carry '=' padding and many of them concatenate into one text that decodes in a single call.
# Layout 2 writes a delta above 255 as (255, 0) pairs first: zero counts add nothing, and decoding stays one
# cumulative sum.
PAIR_DTYPES = {
    2: np.dtype([("delta", "u1"), ("count", "u1")]),
    6: np.dtype([("delta", "<u2"), ("count", "<u4")]),
    12: np.dtype([("delta", "<u4"), ("count", "<u8")]),
}
_SKIP = 255


def encode_buckets(index: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Payload fields for sorted nonzero bucket indexes and their counts.

    i: first bucket index; k: pairs stored (layout 2 adds zero-count pairs: skips and up to 2 of padding);
    w: pair layout; b: base64 of the pairs, whose deltas count from i (the first delta is 0).
    """
    index = np.asarray(index, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    first = int(index[0]) if index.size else 0
    deltas = np.diff(index, prepend=first)
    top_count = int(counts.max()) if counts.size else 0
    if top_count >= 0x100:
        layout = 6 if top_count < 0x1_0000_0000 else 12
        packed = np.zeros(index.size, dtype=PAIR_DTYPES[layout])
        packed["delta"], packed["count"] = deltas, counts
    else:
        layout = 2
        skips = deltas // _SKIP
        real = np.cumsum(skips) + np.arange(index.size)  # where each bucket's own pair lands
        size = index.size + int(skips.sum())
        packed = np.zeros(size + (-size % 3), dtype=PAIR_DTYPES[2])
        packed["delta"][:size] = _SKIP
        packed["delta"][real] = deltas - skips * _SKIP
        packed["count"][real] = counts
    return {"i": first, "k": int(packed.size), "w": layout, "b": base64.b64encode(packed.tobytes()).decode("ascii")}


def decode_keys(payloads: list[str], firsts: npt.ArrayLike, sizes: npt.ArrayLike, layout: int,
                offsets: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """(offsets[i] + bucket index, count) for every pair of payload i, in payload order.

    One base64 call over the joined texts; the first delta of each payload is shifted so that a single
    cumulative sum yields the keys directly. Callers use offsets to place payloads in a dense array
    (e.g. ((step * names) + name) * BUCKET_COUNT); no Python code runs per payload or bucket.
    """
    pairs = np.asarray(sizes, dtype=np.int64)
    packed = np.frombuffer(base64.b64decode("".join(payloads)), dtype=PAIR_DTYPES[layout])
    if packed.size != int(pairs.sum()):
        raise ValueError(f"histogram payloads hold {packed.size} buckets, their headers (k) say {int(pairs.sum())}")
    deltas = packed["delta"].astype(np.int64)
    nonempty = np.flatnonzero(pairs > 0)
    if nonempty.size:
        starts = (np.cumsum(pairs) - pairs)[nonempty]
        first = np.asarray(firsts, dtype=np.int64)[nonempty]
        last_index = first + np.add.reduceat(deltas, starts)
        if first.min() < 0 or last_index.max() >= BUCKET_COUNT:
            raise ValueError("histogram payload has a bucket index outside the layout")
        wanted_first = np.asarray(offsets, dtype=np.int64)[nonempty] + first
        previous_key = np.concatenate([[0], (wanted_first - first + last_index)[:-1]])
        deltas[starts] += wanted_first - previous_key
    return np.cumsum(deltas), packed["count"]


def decode_buckets(payloads: list[str], firsts: npt.ArrayLike, sizes: npt.ArrayLike, layout: int
                   ) -> tuple[npt.NDArray[np.int64], ...]:
    """Flat (payload position, bucket index, count) arrays of the nonzero buckets of payloads of one layout."""
    offsets = np.arange(len(payloads), dtype=np.int64) * BUCKET_COUNT
    keys, counts = decode_keys(payloads, firsts, sizes, layout, offsets)
    real = counts > 0
    keys = keys[real]
    return keys // BUCKET_COUNT, keys % BUCKET_COUNT, counts[real].astype(np.int64)
