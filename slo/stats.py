"""Confidence bounds and sample sufficiency for ratio and percentile SLIs.

Each bound is one-sided at the given confidence, so "pass" means the target is shown at that confidence and
"fail" means it is refuted at that confidence; together the two bounds form a (2c - 1) two-sided interval.
The percentile bounds are distribution-free (order statistics); both reduce to the same binomial test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _st


@dataclass(frozen=True, slots=True)
class Bounds:
    lower: float | None  # None: no bound can be given at this confidence (too few samples)
    upper: float | None


def clopper_pearson(good: int, total: int, confidence: float) -> Bounds:
    """Exact one-sided bounds on a success proportion (beta quantiles of the binomial)."""
    if total <= 0:
        return Bounds(None, None)
    alpha = 1.0 - confidence
    lower = 0.0 if good == 0 else float(_st.beta.ppf(alpha, good, total - good + 1))
    upper = 1.0 if good == total else float(_st.beta.ppf(confidence, good + 1, total - good))
    return Bounds(lower, upper)


def mean_bounds(values: npt.ArrayLike, confidence: float) -> Bounds:
    """One-sided bounds on the mean of values in [0, 1] (slice success ratios): the empirical Bernstein bound
    (Maurer and Pontil 2009, theorem 4), mean -/+ sqrt(2 V ln(2/a) / n) + 7 ln(2/a) / (3 (n - 1)) with V the
    sample variance. Distribution-free like the other bounds, and tight when the ratios hardly vary (a quarter of
    mostly perfect minutes), where a variance-blind (Hoeffding) bound would be too wide to ever show 99.9 %."""
    ratios = np.asarray(values, dtype=np.float64)
    n = int(ratios.size)
    if n < 2:
        return Bounds(None, None)
    log_term = math.log(2.0 / (1.0 - confidence))
    margin = math.sqrt(2.0 * float(ratios.var(ddof=1)) * log_term / n) + 7.0 * log_term / (3.0 * (n - 1))
    mean = float(ratios.mean())
    return Bounds(max(0.0, mean - margin), min(1.0, mean + margin))


def order_statistic_ranks(total: int, percentile: float, confidence: float) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) with P(X_(l) <= q_p) >= c and P(X_(u) >= q_p) >= c for any continuous X.

    X_(r) <= q_p exactly when at least r samples fall at or below q_p, a Binomial(total, p) event.
    """
    if total <= 0:
        return None, None
    p = percentile / 100.0
    alpha = 1.0 - confidence
    # upper: smallest u with BinomCDF(u - 1) >= c
    k_up = int(_st.binom.ppf(confidence, total, p))
    upper = k_up + 1 if k_up + 1 <= total else None
    # lower: largest l with BinomCDF(l - 1) <= alpha
    k_low = int(_st.binom.ppf(alpha, total, p))
    if _st.binom.cdf(k_low, total, p) > alpha:
        k_low -= 1
    lower = k_low + 1 if k_low + 1 >= 1 else None
    return lower, upper


def samples_needed(bad_fraction: float, target: float, confidence: float) -> int | None:
    """Smallest sample count at which a run with this bad fraction would settle the verdict.

    Below the target's bad fraction: samples to show the target (2,995 for 99.9 % with no failure at 95 %);
    above it: samples to refute it. Failures are whole numbers rounded against the verdict being sought, so
    the answer is an estimate for a run that goes on as it went. None when the fraction sits on the target.
    """
    allowed_bad = 1.0 - target
    if math.isclose(bad_fraction, allowed_bad, rel_tol=1e-12, abs_tol=1e-15):
        return None
    alpha = 1.0 - confidence

    if bad_fraction < allowed_bad:
        if bad_fraction == 0.0:
            return math.ceil(math.log(alpha) / math.log(target) - 1e-9)

        def settled(n: int) -> bool:
            good = n - math.ceil(n * bad_fraction - 1e-9)  # whole failures, rounded against the verdict
            return good > 0 and bool(_st.beta.ppf(alpha, good, n - good + 1) >= target)
    else:
        if bad_fraction >= 1.0:
            return math.ceil(math.log(alpha) / math.log(allowed_bad) - 1e-9) if allowed_bad > 0 else 1

        def settled(n: int) -> bool:
            good = n - math.floor(n * bad_fraction + 1e-9)
            return good < n and bool(_st.beta.ppf(confidence, good + 1, n - good) < target)

    low, high = 1, 2
    while not settled(high):
        low, high = high, high * 2
        if high > 10**15:
            return None
    while low < high:
        mid = (low + high) // 2
        if settled(mid):
            high = mid
        else:
            low = mid + 1
    return high
