"""The project's one percentile definition: nearest rank.

The p-th percentile of n samples is the sample of 1-based rank ceil(p/100 * n) in ascending order (rank 1 for
p = 0): always a value that was measured, never an interpolation between two. Every percentile rxsuite reports
uses it: raw samples here, the HDR histograms through `nearest_rank` (slo.histogram, slo.aggregate), the drill's
probe latencies, the journeys' page loads and web vitals. Kept apart from slo.stats so the Locust processes,
which record histograms, do not import SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["nearest_rank", "nearest_ranks", "percentile"]


def _check(p: float) -> None:
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile {p} is outside [0, 100]")


def nearest_rank(p: float, total: int) -> int:
    """The smallest 1-based rank r with r >= p/100 * total (at least 1); rounding noise of p * total is ignored."""
    _check(p)
    return max(1, math.ceil(round(p * total / 100.0, 9)))


def nearest_ranks(p: float, totals: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`nearest_rank` for many totals at once (one per time step), as floats for comparison with cumulative sums."""
    _check(p)
    return np.maximum(1.0, np.ceil(np.round(p * np.asarray(totals, dtype=np.float64) / 100.0, 9)))


def percentile(samples: Iterable[float], p: float) -> float | None:
    """The nearest-rank p-th percentile of raw samples; None when there are none."""
    ordered = sorted(float(s) for s in samples)
    if not ordered:
        _check(p)
        return None
    return ordered[nearest_rank(p, len(ordered)) - 1]
