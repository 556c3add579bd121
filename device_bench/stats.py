"""Latency statistics, computed one way for every backend and target so their numbers compare."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from edgenet.device_bench.results import LatencyStats


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between order statistics.

    This is numpy's default (Hyndman & Fan type 7, the same as ``statistics.quantiles(method="inclusive")`` and
    Excel's PERCENTILE.INC): p50 of [1, 2, 3, 4] is 2.5, and p99 of 100 samples sits between the 99th and 100th.
    """
    if len(values) == 0:
        raise ValueError("percentile of no samples")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summarize(latencies_ms: Sequence[float]) -> LatencyStats:
    """p50/p90/p99 (MLPerf single-stream reports p90), mean, population std, min and max of per-run latencies."""
    x = np.asarray(latencies_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no latency samples")
    p50, p90, p99 = (float(v) for v in np.percentile(x, [50, 90, 99]))
    return LatencyStats(
        p50=p50, p90=p90, p99=p99, mean=float(x.mean()), std=float(x.std()), min=float(x.min()), max=float(x.max())
    )


UNSTABLE_P90_OVER_P50 = 1.5
UNSTABLE_MAD_OVER_P50 = 0.2
UNSTABLE_RULE = f"p90 > {UNSTABLE_P90_OVER_P50:g} × p50 or MAD > {UNSTABLE_MAD_OVER_P50:.0%} of p50"


def is_unstable(latencies_ms: Sequence[float], stats: LatencyStats) -> bool:
    """Whether a measurement is too spread to quote: a long tail (p90/p50) or a wide middle (median absolute
    deviation). A stable CPU run stays near 1.1 and 5 %; a torch row measured at p50 82 ms and p90 2,243 ms (another
    job on the machine) was stored and plotted as if it were a number."""
    if stats.p50 is None or stats.p90 is None or stats.p50 <= 0:
        return False
    x = np.asarray(latencies_ms, dtype=np.float64)
    mad = float(np.median(np.abs(x - np.median(x)))) if x.size else 0.0
    return stats.p90 > UNSTABLE_P90_OVER_P50 * stats.p50 or mad > UNSTABLE_MAD_OVER_P50 * stats.p50


def throughput(stats: LatencyStats, batch: int) -> float | None:
    """Items per second over the timed runs: batch × runs / total time = batch / mean latency."""
    if stats.mean is None or stats.mean <= 0:
        return None
    return batch * 1000.0 / stats.mean
