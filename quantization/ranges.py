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
) -> dict[str, np.ndarray]:
    """Each ranged tensor's histogram over ``samples`` (NCHW), ``bins`` equal steps on its [min, max].

    Runs the fp32 model on LiteRT's reference kernels with every intermediate tensor kept (XNNPACK would fuse
    them away); ~2× the calibrator's own pass.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgenet.quiet import native_stderr_captured

    with native_stderr_captured():
        import warnings

        with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": that is what this is
            warnings.simplefilter("ignore")
            it = Interpreter(
                model_content=fp32,
                experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
    it.allocate_tensors()
    index = {d["name"]: d["index"] for d in it.get_tensor_details()}
    # a range too narrow for ``bins`` finite steps (a near-constant tensor) has nothing to clip: it keeps min/max
    wide = {n for n, (lo, hi) in ranges.items() if hi - lo > 8 * bins * np.spacing(np.float32(max(-lo, hi)))}
    names = [n for n in ranges if n in index and n in wide]
    inp = it.get_input_details()[0]["index"]
    hist = {n: np.zeros(bins, np.int64) for n in names}
    x = np.ascontiguousarray(samples.transpose(0, 2, 3, 1), dtype=np.float32)
    for s in progress.iterate(x, "activation histograms", len(x), "img"):
        it.set_tensor(inp, s[None])
        it.invoke()
        for n in names:
            hist[n] += np.histogram(it.get_tensor(index[n]), bins, range=ranges[n])[0]
    return hist
