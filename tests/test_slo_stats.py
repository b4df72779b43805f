"""Confidence bounds and sample sufficiency, checked against direct binomial sums."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.stats import clopper_pearson, order_statistic_ranks, samples_needed


def _binom_tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def _binom_cdf(k: int, n: int, p: Fraction) -> Fraction:
    """P(X <= k), exactly, in rational arithmetic."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, k + 1)), Fraction(0))


@pytest.mark.parametrize(("good", "total"), [(7, 10), (95, 100), (1, 20), (199, 200)])
def test_clopper_pearson_bounds_solve_the_binomial_tail_equations(good: int, total: int) -> None:
    bounds = clopper_pearson(good, total, 0.95)
    assert bounds.lower is not None and bounds.upper is not None
    # lower bound: the success probability at which seeing >= good successes has probability 5%
    assert _binom_tail_at_least(good, total, bounds.lower) == pytest.approx(0.05, rel=1e-6)
    # upper bound: the success probability at which seeing <= good successes has probability 5%
    assert 1 - _binom_tail_at_least(good + 1, total, bounds.upper) == pytest.approx(0.05, rel=1e-6)


def test_all_good_gives_the_closed_form_lower_bound() -> None:
    bounds = clopper_pearson(50, 50, 0.95)
    assert bounds.lower == pytest.approx(0.05 ** (1 / 50))
    assert bounds.upper == 1.0


def test_2995_requests_without_failure_show_three_nines() -> None:
    assert samples_needed(0.0, 0.999, 0.95) == 2995
    assert clopper_pearson(2995, 2995, 0.95).lower >= 0.999  # type: ignore[operator]
    assert clopper_pearson(2994, 2994, 0.95).lower < 0.999  # type: ignore[operator]


def test_a_bad_share_above_the_target_needs_samples_to_refute_it() -> None:
    needed = samples_needed(0.01, 0.999, 0.95)
    assert needed is not None
    assert clopper_pearson(needed - math.floor(needed * 0.01), needed, 0.95).upper < 0.999  # type: ignore[operator]


@pytest.mark.parametrize(("total", "percentile"), [(100, 95), (20, 50), (1000, 99), (59, 95)])
def test_order_statistic_ranks_are_the_tightest_with_the_coverage(total: int, percentile: int) -> None:
    p = Fraction(percentile, 100)
    lower, upper = order_statistic_ranks(total, percentile, 0.95)
    assert upper is not None
    # P(X_(u) >= q_p) = P(Binomial(n, p) <= u - 1) must reach 95%, and not with u - 1
    assert _binom_cdf(upper - 1, total, p) >= Fraction(95, 100) > _binom_cdf(upper - 2, total, p)
    if lower is not None:
        # P(X_(l) <= q_p) = P(Binomial(n, p) >= l) must reach 95%, and not with l + 1
        assert 1 - _binom_cdf(lower - 1, total, p) >= Fraction(95, 100) > 1 - _binom_cdf(lower, total, p)


def test_too_few_samples_give_no_upper_rank() -> None:
    assert order_statistic_ranks(58, 95, 0.95)[1] is None
    assert order_statistic_ranks(59, 95, 0.95)[1] == 59


@given(st.integers(1, 5000), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=150)
def test_bounds_bracket_the_observed_share_and_widen_with_confidence(total: int, data: st.DataObject,
                                                                     confidence: float) -> None:
    good = data.draw(st.integers(0, total))
    bounds = clopper_pearson(good, total, confidence)
    wider = clopper_pearson(good, total, min(0.999, confidence + 0.009))
    assert 0 <= bounds.lower <= good / total <= bounds.upper <= 1  # type: ignore[operator]
    assert wider.lower <= bounds.lower + 1e-12 and wider.upper >= bounds.upper - 1e-12  # type: ignore[operator]


@given(st.sampled_from([0.9, 0.95, 0.99, 0.999, 0.9999]), st.floats(0.0, 0.9))
@settings(max_examples=100)
def test_samples_needed_is_just_enough_for_a_run_without_failures(target: float, slack: float) -> None:
    needed = samples_needed(0.0, target, 0.95)
    assert needed is not None
    assert clopper_pearson(needed, needed, 0.95).lower >= target  # type: ignore[operator]
    assert needed == 1 or clopper_pearson(needed - 1, needed - 1, 0.95).lower < target  # type: ignore[operator]
