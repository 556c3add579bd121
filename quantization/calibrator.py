"""Activation ranges for int8: on fast kernels (:mod:`edgenet.quantization.observer`, the default), or with
TFLite's calibrator run on several cores at once (the reference, ``calibrator="tflite"``).

TFLite's calibrator runs the float model sample by sample on its reference kernels (single-threaded, holding the
GIL) and records each tensor's min and max: ~125 ms per 224-px B0 image here, 12.7 s of a 100-image calibration,
the largest stage of ``convert --int8``. Batching does not help (measured: 12.6 s at batch 10, 12.7 s at 100) and
threads do not either (GIL). Min/max are exact under merging — the range of all samples is the elementwise
min/max of the ranges of any split — so the samples are split across worker processes, each runs the same
calibrator (the copy LiteRT ships, which imports in ~0.3 s; TensorFlow's cannot be loaded beside it in one
process), and the calibrated models are merged in place. A split is byte-identical to a single worker's result
(tested), so the model does not depend on the machine's core count; small jobs use one worker.

Workers are plain scripts (:mod:`edgenet.quantization._calibration_worker`), not ``multiprocessing``: spawn would
re-import the caller's ``__main__`` — a notebook's, or a script's unguarded top level — in every worker. Only without
LiteRT does calibration run in-process with TensorFlow's copy, whose float kernels record ranges up to ~1e-5 (relative)
apart, enough to move a logit by a few quantization steps.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from edgenet.atomic import scratch_dir
from edgenet.devices import available_cpus
from edgenet.diskarray import release
from edgenet.progress import SILENT, Progress
from edgenet.resources import note_worker_peak

# Below this much work (samples × pixels) one worker is as fast as several (each starts in ~0.5 s).
PARALLEL_MIN_WORK = 24 * 160 * 160
WORKER = Path(__file__).with_name("_calibration_worker.py")
WORKDIR_NAME = "edgenet-calibrate"


def plan_workers(samples: np.ndarray, workers: int | None = None) -> int:
    """Worker processes for ``samples`` (NCHW): 0 means in-process (only without LiteRT)."""
    if workers is not None:
        return max(0, min(workers, len(samples)))
    if importlib.util.find_spec("ai_edge_litert") is None:
        return 0
    if len(samples) * samples.shape[2] * samples.shape[3] < PARALLEL_MIN_WORK:
        return 1
    return min(available_cpus(), max(1, len(samples) // 8))


CALIBRATORS = {
    "fast": "XNNPACK on every core, every activation exposed (ranges within float rounding of TFLite's calibrator)",
    "tflite": "TFLite's own calibrator on its single-threaded kernels, one worker process per core (the reference)",
}


def calibrate(
    fp32: bytes,
    samples: np.ndarray,
    workers: int | None = None,
    progress: Progress = SILENT,
    calibrator: str = "fast",
) -> bytes:
    """The fp32 model with every tensor's calibrated min/max recorded (what TF's MLIR quantizer reads).

    ``samples`` are preprocessed NCHW float32 images. ``calibrator`` picks who observes them (:data:`CALIBRATORS`):
    the fast kernels of :mod:`edgenet.quantization.observer`, or TFLite's calibrator, whose ``workers`` overrides
    the plan (0: in-process). Without LiteRT, or for a model of several subgraphs, TFLite's calibrator runs.
    """
    if not len(samples):
        raise ValueError("calibration needs at least one sample")
    if calibrator not in CALIBRATORS:
        raise ValueError(f"calibrator {calibrator!r}: choose one of {', '.join(CALIBRATORS)}")
    if calibrator != "tflite" and importlib.util.find_spec("ai_edge_litert") is not None:
        from edgenet.quantization.observer import calibrate_fast, observable

        if observable(fp32):  # else control flow (several subgraphs): TFLite's calibrator handles any model
            return calibrate_fast(fp32, samples, progress=progress)
    n_workers = plan_workers(samples, workers)
    if n_workers == 0:
        from tensorflow.lite.python.optimize import calibrator

        def gen():
            for i in progress.iterate(range(len(samples)), "calibrating", len(samples), "img"):
                yield [np.ascontiguousarray(samples[i].transpose(1, 2, 0), dtype=np.float32)[None]]
                release(samples, i)

        model = calibrator.add_intermediate_tensors(fp32)  # the calibrator reads this buffer: keep it alive
        return calibrator.Calibrator(model).calibrate(gen)
    # a private folder a later run removes if this one is kill -9'd (the model and shards are tens of MB)
    with scratch_dir(Path(tempfile.gettempdir()), WORKDIR_NAME) as tmp:
        return _in_workers(fp32, samples, n_workers, tmp, progress)


def _in_workers(fp32: bytes, samples: np.ndarray, n: int, tmp: Path, progress: Progress) -> bytes:
    """``samples`` (NCHW, possibly on disk) split into ``n`` NHWC shards, one worker each, their ranges merged."""
    (tmp / "model.tflite").write_bytes(fp32)
    procs = []
    for i, idx in enumerate(np.array_split(np.arange(len(samples)), n)):  # one shard in memory at a time
        np.save(tmp / f"shard{i}.npy", np.ascontiguousarray(samples[idx].transpose(0, 2, 3, 1), dtype=np.float32))
        for k in idx:
            release(samples, int(k))
        args = [str(tmp / "model.tflite"), str(tmp / f"shard{i}.npy"), str(tmp / f"out{i}.tflite"), str(os.getpid())]
        # -P: the cwd cannot shadow NumPy or LiteRT
        procs.append(subprocess.Popen([sys.executable, "-P", str(WORKER), *args], stdout=subprocess.PIPE, text=True))
    done: queue.Queue = queue.Queue()

    peaks: list[float] = []

    def read(p: subprocess.Popen) -> None:
        for line in p.stdout:  # one line per calibrated sample, then the worker's peak memory
            if line.startswith("peak_kb"):
                peaks.append(int(line.split()[1]) / 1024)
            else:
                done.put(1)
        done.put(0)  # this worker has finished

    for p in procs:
        threading.Thread(target=read, args=(p,), daemon=True).start()

    def samples_done():
        finished = 0
        while finished < n:
            if done.get():
                yield 1
            else:
                finished += 1

    try:
        for _ in progress.iterate(samples_done(), "calibrating", len(samples), "img"):
            pass
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if peaks:
        note_worker_peak(max(peaks))
    if any(codes):
        raise RuntimeError(f"a calibration worker failed (exit codes {codes}); out of memory? try fewer samples")
    merged = bytearray((tmp / "out0.tflite").read_bytes())
    for i in range(1, n):
        merge_ranges(merged, (tmp / f"out{i}.tflite").read_bytes())
    return bytes(merged)


def merge_ranges(into: bytearray, other: bytes) -> bytearray:
    """Widen the recorded min/max of ``into`` (in place) by those of ``other``, a calibration of the same model."""
    from edgenet.artifacts.tflite_model import tflite_schema

    s = tflite_schema()
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


def pin_input_range(calibrated: bytes, lo: float, hi: float) -> bytes:
    """``calibrated`` with the model input's recorded range set to exactly [lo, hi].

    A raw-pixel input (:mod:`edgenet.converters.raw_input`) must quantize with scale 1 — uint8 zero point 0, int8 −128 —
    whatever the calibration photos happened to contain (few have a pure 0 and a pure 255 in every channel), so
    that apps can feed camera pixels unchanged. Raises ValueError when the input has no recorded range."""
    from edgenet.artifacts.tflite_model import tflite_schema

    out = bytearray(calibrated)
    sub = tflite_schema().Model.GetRootAsModel(out, 0).Subgraphs(0)
    pinned = 0
    for k in range(sub.InputsLength()):
        q = sub.Tensors(sub.Inputs(k)).Quantization()
        if q is None or not q.MinLength():
            continue
        q.MinAsNumpy()[:] = lo  # views into ``out``
        q.MaxAsNumpy()[:] = hi
        pinned += 1
    if not pinned:
        raise ValueError("the calibrated model records no input range to pin")
    return bytes(out)
