"""Activation ranges for int8: TFLite's calibrator, run on several cores at once.

TFLite's calibrator runs the float model sample by sample on its reference kernels (single-threaded, holding the
GIL) and records each tensor's min and max: ~125 ms per 224-px B0 image here, 12.7 s of a 100-image calibration,
the largest stage of ``convert --int8``. Batching does not help (measured: 12.6 s at batch 10, 12.7 s at 100) and
threads do not either (GIL). Min/max are exact under merging — the range of all samples is the elementwise
min/max of the ranges of any split — so the samples are split across worker processes, each runs the same
calibrator (the copy LiteRT ships, which imports in ~0.3 s; TensorFlow's cannot be loaded beside it in one
process), and the calibrated models are merged in place. A split is byte-identical to a single worker's result
(tested), so the model does not depend on the machine's core count. Small jobs use one worker; the workers stay up
for the next calibration of the process (``--auto-fix``'s larger set, a benchmark's next model). Only without
LiteRT does calibration run in-process with TensorFlow's copy, whose float kernels record ranges up to ~1e-5
(relative) apart — enough to move a logit by a few quantization steps.
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from edgenet.progress import SILENT, Progress

# Below this much work (samples × pixels) one in-process pass is faster than starting workers (~1 s each).
PARALLEL_MIN_WORK = 24 * 160 * 160


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _nhwc(samples: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(samples.transpose(0, 2, 3, 1), dtype=np.float32)


def plan_workers(samples: np.ndarray, workers: int | None = None) -> int:
    """Worker processes for ``samples`` (NCHW): 0 means in-process (only without LiteRT)."""
    if workers is not None:
        return max(0, workers)
    if importlib.util.find_spec("ai_edge_litert") is None:
        return 0
    if len(samples) * samples.shape[2] * samples.shape[3] < PARALLEL_MIN_WORK:
        return 1
    return min(available_cpus(), max(1, len(samples) // 8))


_POOL: dict[int, ProcessPoolExecutor] = {}


def _pool(n: int) -> ProcessPoolExecutor:
    """``n`` warm worker processes, reused by later calibrations in this process."""
    if n not in _POOL:
        for old in _POOL.values():
            old.shutdown(wait=False, cancel_futures=True)
        _POOL.clear()
        _POOL[n] = ProcessPoolExecutor(n, mp_context=_spawn())
    return _POOL[n]


def calibrate(fp32: bytes, samples: np.ndarray, workers: int | None = None, progress: Progress = SILENT) -> bytes:
    """The fp32 model with every tensor's calibrated min/max recorded (what TF's MLIR quantizer reads).

    ``samples`` are preprocessed NCHW float32 images; ``workers`` overrides the plan (0: in-process).
    """
    if not len(samples):
        raise ValueError("calibration needs at least one sample")
    x = _nhwc(samples)
    n_workers = plan_workers(samples, workers)
    if n_workers == 0:
        from tensorflow.lite.python.optimize import calibrator

        def gen():
            for s in progress.iterate(x, "calibrating", len(x), "img"):
                yield [s[None]]

        model = calibrator.add_intermediate_tensors(fp32)
        return calibrator.Calibrator(model).calibrate(gen)
    # several shards per worker, so the bar moves while the work stays balanced
    shards = [s for s in np.array_split(x, min(len(x), 4 * n_workers)) if len(s)]
    merged: bytearray | None = None
    bar = iter(progress.iterate(range(len(x)), "calibrating", len(x), "img"))
    pool = _pool(n_workers)
    try:
        for done in as_completed([pool.submit(_calibrate_shard, fp32, s) for s in shards]):
            part, n = done.result()
            merged = bytearray(part) if merged is None else merge_ranges(merged, part)
            for _ in range(n):
                next(bar, None)
    except BrokenProcessPool:
        _POOL.clear()
        raise RuntimeError("a calibration worker died (out of memory?); try fewer --calib-samples") from None
    next(bar, None)  # let the bar close
    return bytes(merged)


def _spawn():
    import multiprocessing

    # spawn, not fork: the parent has TensorFlow's and PyTorch's thread pools loaded, which fork does not survive
    return multiprocessing.get_context("spawn")


def _calibrate_shard(fp32: bytes, x: np.ndarray) -> tuple[bytes, int]:
    """Worker side: LiteRT's calibrator over one shard (NHWC)."""
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as wrapper

    model = wrapper.AddIntermediateTensors(fp32)  # the wrapper reads this buffer: keep it alive until the end
    cal = wrapper.CalibrationWrapper(model, [], [])
    cal.Prepare([[1, *x.shape[1:]]])
    for s in x:
        cal.FeedTensor([s[None]])
    calibrated = cal.Calibrate()
    del cal, model
    return calibrated, len(x)


def merge_ranges(into: bytearray, other: bytes) -> bytearray:
    """Widen the recorded min/max of ``into`` (in place) by those of ``other``, a calibration of the same model."""
    from edgenet.artifacts.tflite_model import _schema

    s = _schema()
    a, b = s.Model.GetRootAsModel(into, 0), s.Model.GetRootAsModel(other, 0)
    for g in range(a.SubgraphsLength()):
        ga, gb = a.Subgraphs(g), b.Subgraphs(g)
        if ga.TensorsLength() != gb.TensorsLength():
            raise ValueError("calibrations of different models cannot be merged")
        for i in range(ga.TensorsLength()):
            qa, qb = ga.Tensors(i).Quantization(), gb.Tensors(i).Quantization()
            if qa is None or not qa.MinLength():
                continue
            lo, hi = qa.MinAsNumpy(), qa.MaxAsNumpy()  # views into ``into``: updated in place
            np.minimum(lo, qb.MinAsNumpy(), out=lo)
            np.maximum(hi, qb.MaxAsNumpy(), out=hi)
    return into
