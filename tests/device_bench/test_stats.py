"""Percentile maths: one convention (linear interpolation, numpy's default) for every backend and target."""

import statistics

import numpy as np
import pytest
from edgenet.device_bench.stats import percentile, summarize, throughput


def test_percentiles_of_1_to_100_by_hand():
    x = list(range(1, 101))
    # linear interpolation at rank q/100 * (n - 1): p50 → 50.5, p90 → 90.1, p99 → 99.01
    assert percentile(x, 50) == pytest.approx(50.5)
    assert percentile(x, 90) == pytest.approx(90.1)
    assert percentile(x, 99) == pytest.approx(99.01)
    assert percentile(x, 0) == 1 and percentile(x, 100) == 100


def test_percentiles_match_statistics_inclusive():
    rng = np.random.default_rng(0)
    x = rng.lognormal(1.0, 0.4, size=257).tolist()
    q = statistics.quantiles(x, n=100, method="inclusive")  # q[k-1] is the k-th percentile
    for k in (50, 90, 99):
        assert percentile(x, k) == pytest.approx(q[k - 1], rel=1e-12)


def test_order_does_not_matter_and_small_samples():
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summarize():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0])
    assert (s.p50, s.min, s.max, s.mean) == (3.0, 1.0, 10.0, 4.0)
    assert s.std == pytest.approx(np.std([1, 2, 3, 4, 10]))  # population std, like benchmark_model's
    assert s.p50 <= s.p90 <= s.p99 <= s.max
    with pytest.raises(ValueError):
        summarize([])


def test_throughput_is_items_per_second():
    s = summarize([10.0, 10.0, 10.0])
    assert throughput(s, 1) == pytest.approx(100.0)
    assert throughput(s, 64) == pytest.approx(6400.0)
