"""In-process latency of several models at once, on the one timing loop every edgenet number comes from.

:func:`edgenet.device_bench.remote_runner.time_loop` is what ``edgenet bench`` runs on this machine and on boards; this
module feeds it several models in interleaved rounds (10 calls each, until every model has ``runs``), so load drift
during a measurement hits all of them alike. Used by ``--auto-fix``'s recommendations, ``quant-report`` and the
benchmark scripts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgenet.device_bench.remote_runner import time_loop

ROUND = 10


def _stats(ms: list[float]) -> dict:
    return {"p50_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)), "runs": len(ms)}


def tflite_latency(
    models: dict[str, Path | bytes], runs: int = 30, threads: int = 1, warmup: int = 5
) -> dict[str, dict]:
    """{name: {p50_ms, p90_ms, runs}} for .tflite files or in-memory models, XNNPACK, ``threads`` threads."""
    from edgenet.artifacts.runtime import tflite_interpreter_class

    cls, _ = tflite_interpreter_class()
    calls = {}
    for name, m in models.items():
        it = cls(model_content=m, num_threads=threads) if isinstance(m, bytes) else cls(str(m), num_threads=threads)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.random.default_rng(0).integers(0, 100, d["shape"]).astype(d["dtype"]))
        time_loop(it.invoke, warmup, 0)
        calls[name] = it.invoke
    times: dict[str, list[float]] = {n: [] for n in calls}
    while min(len(t) for t in times.values()) < runs:
        for name, fn in calls.items():
            times[name] += time_loop(fn, 0, ROUND)
    return {n: _stats(t) for n, t in times.items()}


def tflite_p50_ms(model: Path | bytes, runs: int = 30, threads: int = 1) -> float:
    """Median single-image latency of one model on this CPU."""
    return tflite_latency({"m": model}, runs, threads)["m"]["p50_ms"]


def torch_latency(model, resolution: int, runs: int = 30, threads: int = 1, warmup: int = 5) -> dict:
    """{p50_ms, p90_ms, runs} of a PyTorch model on one 3×R×R image, ``threads`` intra-op threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, resolution, resolution)
    try:
        with torch.inference_mode():
            return _stats(time_loop(lambda: model(x), warmup, runs))
    finally:
        torch.set_num_threads(before)
