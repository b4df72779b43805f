"""The HDR-style histogram: layout invariants, 3-significant-digit accuracy, merging and serialisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.histogram import (
    BUCKET_COUNT,
    MAX_VALUE_US,
    Histogram,
    bucket_highest,
    bucket_index,
    bucket_lowest,
    decode_buckets,
)


def _exact_nearest_rank(values: np.ndarray, percentile: float) -> float:
    """Independent reference: the smallest sample with at least p% of samples at or below it (integer maths)."""
    ordered = np.sort(values)
    numerator = round(percentile * 1000) * len(ordered)  # percentile in thousandths of a percent
    rank = max(1, -(-numerator // 100_000))
    return float(ordered[rank - 1])


def test_every_bucket_is_contiguous_and_narrower_than_a_thousandth() -> None:
    index = np.arange(BUCKET_COUNT)
    low, high = bucket_lowest(index), bucket_highest(index)
    assert (bucket_index(low) == index).all() and (bucket_index(high) == index).all()
    assert (low[1:] == high[:-1] + 1).all()
    assert low[0] == 0 and high[-1] == MAX_VALUE_US
    wide = low >= 2048
    assert ((high[wide] - low[wide] + 1) / low[wide] <= 1 / 1024).all()


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("percentile", [50, 90, 95, 99, 99.9])
def test_percentile_is_within_a_tenth_of_a_percent_of_the_exact_one(sigma: float, percentile: float) -> None:
    rng = np.random.default_rng(int(sigma * 10))
    values = np.rint(rng.lognormal(np.log(200_000), sigma, 100_000))
    hist = Histogram()
    hist.record_many(values)
    exact = _exact_nearest_rank(values, percentile)
    value = hist.value_at_percentile(percentile)
    assert value is not None
    assert abs(value - exact) <= exact * 0.001


def test_min_max_and_mean_are_exact() -> None:
    values = np.array([1_500, 2_047, 2_048, 3_000_001, 17])
    hist = Histogram()
    hist.record_many(values)
    assert (hist.count, hist.min, hist.max) == (5, 17, 3_000_001)
    assert hist.mean == pytest.approx(values.mean())
    assert hist.value_at_percentile(100) == 3_000_001


def test_record_one_by_one_equals_record_many() -> None:
    values = np.random.default_rng(3).integers(0, 50_000_000, 2_000)
    one, many = Histogram(), Histogram()
    for v in values:
        one.record(int(v))
    many.record_many(values)
    assert one == many


def test_values_beyond_the_range_are_clamped() -> None:
    hist = Histogram()
    hist.record(-5)
    hist.record(10 * MAX_VALUE_US)
    assert (hist.min, hist.max) == (0, MAX_VALUE_US)


@given(st.lists(st.integers(0, MAX_VALUE_US), max_size=200), st.lists(st.integers(0, MAX_VALUE_US), max_size=200))
def test_adding_histograms_equals_recording_both_sets(a: list[int], b: list[int]) -> None:
    left, right, both = Histogram(), Histogram(), Histogram()
    left.record_many(a)
    right.record_many(b)
    both.record_many(a + b)
    left.add(right)
    assert left == both


@given(st.lists(st.integers(0, MAX_VALUE_US), max_size=300), st.integers(1, 2**40))
@settings(max_examples=60)
def test_serialisation_round_trips(values: list[int], heavy: int) -> None:
    hist = Histogram()
    hist.record_many(values)
    hist.record(1234, count=heavy)
    assert Histogram.from_dict(hist.to_dict()) == hist


def test_payloads_decode_together_as_they_do_alone() -> None:
    rng = np.random.default_rng(5)
    hists = []
    for n in (0, 1, 40, 3_000):
        h = Histogram()
        h.record_many(rng.integers(5_000, 9_000, n))  # close buckets: the 2-byte layout
        hists.append(h)
    dicts = [h.to_dict() for h in hists]
    assert {d["w"] for d in dicts} == {2}
    position, index, counts = decode_buckets([d["b"] for d in dicts], [d["i"] for d in dicts],
                                             [d["k"] for d in dicts], 2)
    for i, h in enumerate(hists):
        dense = np.zeros(BUCKET_COUNT, dtype=np.int64)
        np.add.at(dense, index[position == i], counts[position == i])
        assert (dense == h.counts).all()


def test_a_payload_shorter_than_its_header_is_refused() -> None:
    hist = Histogram()
    hist.record_many([10, 20, 30])
    data = hist.to_dict() | {"k": 6}
    with pytest.raises(ValueError, match="headers"):
        Histogram.from_dict(data)
