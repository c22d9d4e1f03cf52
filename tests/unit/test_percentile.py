"""agent/percentile.py: the one percentile every report and benchmark uses is the standard library's inclusive
quantile (linear interpolation), and is defined for one sample."""

from __future__ import annotations

import random
import statistics

import pytest

from agent.percentile import percentile


def test_it_is_the_inclusive_quantile_of_the_standard_library() -> None:
    rng = random.Random(19)
    for size in (2, 3, 10, 101, 997):
        samples = [rng.uniform(0, 1000) for _ in range(size)]
        cut_points = statistics.quantiles(samples, n=100, method="inclusive")
        for rank in (1, 50, 95, 99):
            assert percentile(samples, rank / 100) == pytest.approx(cut_points[rank - 1], abs=1e-9)


def test_it_interpolates_between_ranks_and_takes_the_extremes_at_0_and_1() -> None:
    samples = [40.0, 10.0, 30.0, 20.0]  # unsorted on purpose
    assert percentile(samples, 0.5) == 25.0
    assert percentile(samples, 0.95) == pytest.approx(38.5)
    assert (percentile(samples, 0), percentile(samples, 1)) == (10.0, 40.0)


def test_one_sample_is_every_percentile_and_none_is_an_error() -> None:
    assert percentile([7.5], 0.95) == 7.5
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        percentile([1.0], 95)
