"""One vectorised pass over a window table: per-step outcome counts and per-step latency figures.

Windows are grouped into series steps (default one minute). Histograms are decoded a few steps at a time into
a dense (step, name, bucket) block, so memory stays bounded by the block size whatever the run length, and no
Python code runs per bucket. Each latency query (a set of request names, a percentile, a threshold) gets its
per-step count, count beyond the threshold and percentile; per-name totals give the whole-run histograms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from slo.histogram import BUCKET_COUNT, bucket_highest, bucket_index
from slo.percentile import nearest_ranks
from slo.records import WindowTable

_BLOCK_CELLS = 2_000_000  # dense cells (float64) decoded at once: ~16 MB


@dataclass(frozen=True, slots=True)
class LatencyQuery:
    name_ids: tuple[int, ...]
    percentile: float
    threshold_us: float
    inclusive: bool  # True: a value equal to the threshold is good (op lte)


@dataclass
class StepData:
    step_s: float
    step_start: npt.NDArray[np.float64]  # (steps,) unix seconds, only steps holding data
    outcomes: npt.NDArray[np.int64]  # (steps, names, outcomes)
    name_hist: npt.NDArray[np.int64]  # (names, buckets), whole data
    q_total: npt.NDArray[np.int64]  # (queries, steps) ok latencies in the query's names
    q_bad: npt.NDArray[np.int64]  # (queries, steps) of those, beyond the threshold
    q_value_us: npt.NDArray[np.float64]  # (queries, steps) percentile per step, NaN when empty
    data_start: float
    data_end: float


def first_bad_bucket(threshold_us: float, inclusive: bool) -> int:
    """Buckets from this index on count as beyond the threshold.

    The bucket holding the threshold itself counts as bad unless all of it is good, so the count is never
    optimistic; the uncertainty is one bucket (< 0.1 % of the threshold).
    """
    index = int(bucket_index([threshold_us])[0])
    if inclusive and int(bucket_highest(index)) <= threshold_us:
        return index + 1
    return index


def aggregate(table: WindowTable, step_s: float, queries: list[LatencyQuery]) -> StepData:
    names = len(table.names)
    step_abs = np.floor(table.start / step_s).astype(np.int64)
    steps, step_id = np.unique(step_abs, return_inverse=True)
    n_steps = steps.size
    outcomes = np.zeros((n_steps, names, table.outcomes.shape[1]), dtype=np.int64)
    cell = step_id * names + table.name_id
    for col in range(table.outcomes.shape[1]):
        outcomes[:, :, col] = np.bincount(cell, weights=table.outcomes[:, col],
                                          minlength=n_steps * names).reshape(n_steps, names).astype(np.int64)
    name_hist = np.zeros((names, BUCKET_COUNT), dtype=np.int64)
    q_total = np.zeros((len(queries), n_steps), dtype=np.int64)
    q_bad = np.zeros_like(q_total)
    q_value = np.full((len(queries), n_steps), np.nan)
    all_names = tuple(range(names))
    first_bad = [first_bad_bucket(q.threshold_us, q.inclusive) for q in queries]

    order = np.argsort(step_id, kind="stable")
    row_bounds = np.searchsorted(step_id[order], np.arange(n_steps + 1))
    block_steps = max(1, _BLOCK_CELLS // max(1, names * BUCKET_COUNT))
    for s0 in range(0, n_steps, block_steps):
        s1 = min(n_steps, s0 + block_steps)
        rows = order[row_bounds[s0]:row_bounds[s1]]
        offsets = ((step_id[rows] - s0) * names + table.name_id[rows]) * BUCKET_COUNT
        keys, counts = table.decode_keys(rows, offsets)
        dense = np.bincount(keys, weights=counts, minlength=(s1 - s0) * names * BUCKET_COUNT)
        dense = dense.reshape(s1 - s0, names, BUCKET_COUNT)
        del keys, counts
        name_hist += dense.sum(axis=0).astype(np.int64)
        merged_all: npt.NDArray[np.float64] | None = None
        for qi, query in enumerate(queries):
            if query.name_ids == all_names:
                if merged_all is None:
                    merged_all = dense.sum(axis=1)
                merged = merged_all
            elif len(query.name_ids) == 1:
                merged = dense[:, query.name_ids[0], :]
            else:
                merged = dense[:, list(query.name_ids), :].sum(axis=1)
            _fill_query(merged, query.percentile, first_bad[qi], q_total[qi, s0:s1], q_bad[qi, s0:s1],
                        q_value[qi, s0:s1])
    step_start = steps.astype(np.float64) * step_s
    return StepData(
        step_s=step_s,
        step_start=step_start,
        outcomes=outcomes,
        name_hist=name_hist,
        q_total=q_total,
        q_bad=q_bad,
        q_value_us=q_value,
        data_start=float(table.start.min()) if len(table) else 0.0,
        data_end=float((table.start + table.duration).max()) if len(table) else 0.0,
    )


def _fill_query(merged: npt.NDArray[np.float64], percentile: float, first_bad: int,
                total_out: npt.NDArray[np.int64], bad_out: npt.NDArray[np.int64],
                value_out: npt.NDArray[np.float64]) -> None:
    cumulative = np.cumsum(merged, axis=1)
    total = cumulative[:, -1]
    total_out[:] = total
    bad_out[:] = total - (cumulative[:, first_bad - 1] if first_bad > 0 else 0)
    ranks = nearest_ranks(percentile, total)
    at = (cumulative < ranks[:, None]).sum(axis=1)
    values = bucket_highest(np.minimum(at, BUCKET_COUNT - 1)).astype(np.float64)
    value_out[:] = np.where(total > 0, values, np.nan)
