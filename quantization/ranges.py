"""Activation ranges as a calibrated ``.tflite`` carries them, and the statistics better ranges are chosen from.

TFLite's calibrator records every activation tensor's min and max in the fp32 model's flatbuffer (the
``quantization.min/max`` fields of each tensor). That calibrated model is the one form every quantizer here reads:
TF's MLIR quantizer takes it as it is, ai-edge-quantizer takes the same numbers as its QSVs. A calibration
*method* (:mod:`edgenet.quantization.calibration_methods`) narrows those ranges from each tensor's histogram, so it
applies to any quantizer: :func:`write_ranges` puts the chosen ranges back in place of the min/max.

Histograms have fixed edges — ``bins`` equal steps over the tensor's calibrated [min, max] — so they are exact to
merge and independent of the order the samples come in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgenet.progress import SILENT, Progress

BINS = 2048  # per tensor; a 1/2048 step of the full range is ~8× finer than one int8 step


def _tensors(model: bytes | bytearray):
    from edgenet.artifacts.tflite_model import tflite_schema

    m = tflite_schema().Model.GetRootAsModel(model, 0)
    for g in range(m.SubgraphsLength()):
        sg = m.Subgraphs(g)
        for i in range(sg.TensorsLength()):
            yield sg.Tensors(i)


def read_ranges(calibrated: bytes) -> dict[str, tuple[float, float]]:
    """``{tensor name: (min, max)}`` of every tensor the calibrator recorded."""
    out = {}
    for t in _tensors(calibrated):
        q = t.Quantization()
        if q is not None and q.MinLength():
            out[t.Name().decode()] = (float(q.MinAsNumpy().min()), float(q.MaxAsNumpy().max()))
    return out


def write_ranges(calibrated: bytes, ranges: Mapping[str, tuple[float, float]]) -> bytes:
    """A copy of ``calibrated`` with the recorded min/max of the named tensors replaced (others unchanged)."""
    data = bytearray(calibrated)
    for t in _tensors(data):
        q = t.Quantization()
        name = t.Name().decode()
        if q is None or not q.MinLength() or name not in ranges:
            continue
        lo, hi = ranges[name]
        q.MinAsNumpy()[:] = lo  # views into ``data``: written in place
        q.MaxAsNumpy()[:] = hi
    return bytes(data)


def boundary_tensors(fp32: bytes) -> set[str]:
    """The model's input and output tensors: their ranges stay min/max (the image's range is known exactly, and
    clipping logits would flatten the top classes)."""
    from edgenet.artifacts.tflite_model import tflite_schema

    m = tflite_schema().Model.GetRootAsModel(fp32, 0)
    sg = m.Subgraphs(0)
    idx = [sg.Inputs(i) for i in range(sg.InputsLength())] + [sg.Outputs(i) for i in range(sg.OutputsLength())]
    return {sg.Tensors(i).Name().decode() for i in idx}


def histograms(
    fp32: bytes,
    samples: np.ndarray,
    ranges: Mapping[str, tuple[float, float]],
    bins: int = BINS,
    progress: Progress = SILENT,
    kernels: str = "builtin",
) -> dict[str, np.ndarray]:
    """Each ranged tensor's histogram over ``samples`` (NCHW), ``bins`` equal steps on its [min, max].

    Runs the fp32 model with every activation exposed (:mod:`edgenet.quantization.observer`) on ``kernels``:
    ``"builtin"`` (TFLite's own, the values its calibrator saw) or ``"xnnpack"``.
    """
    from edgenet.quantization.observer import expose
    from edgenet.quantization.observer import histograms as observe_histograms

    # a range too narrow for ``bins`` finite steps (a near-constant tensor) has nothing to clip: it keeps min/max
    wide = {n: r for n, r in ranges.items() if r[1] - r[0] > 8 * bins * np.spacing(np.float32(max(-r[0], r[1])))}
    return observe_histograms(expose(fp32), samples, wide, bins, kernels, progress)
