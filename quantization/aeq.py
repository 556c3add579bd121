"""``--quantizer aeq``: Google's ai-edge-quantizer (AEQ) on the same calibrated model as the reference path.

AEQ quantizes an existing float ``.tflite`` from a recipe (here ``static_wi8_ai8``: per-channel int8 weights,
per-tensor int8 activations, integer compute) and its own statistics ("QSVs", a per-tensor min/max). Its
calibrator keeps a *moving average* of per-batch min/max; edgenet hands it the exact ranges of its own parallel
calibration instead — after the ``--calibration`` method has chosen them — so the two quantizers differ only in
how they quantize, never in what data they saw. AEQ makes int8 I/O only for its own int8 input; for the other I/O
types edgenet asks for float I/O and rewrites the interface with LiteRT's ``modify_model_interface`` (what TF's
converter does for uint8).

What is not AEQ's: the 16×8 recipe is AEQ's (``static_wi8_ai16``), but the per-layer debugger model (quant-report,
``--auto-fix``'s layer ranking) is TensorFlow's, built from the same calibrated model; float fallback of single
layers (``--keep-float``) is TFLite's only.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from edgenet.quantization.ranges import _tensors, read_ranges

from edgenet.errors import EdgenetError
from edgenet.progress import SILENT, Progress


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ai_edge_quantizer") is not None


def _require() -> None:
    if not available():
        raise EdgenetError("--quantizer aeq needs ai-edge-quantizer: pip install 'ai-edge-quantizer>=0.10'")


def _qsvs(calibrated: bytes) -> dict[str, dict[str, np.ndarray]]:
    """AEQ's statistics from the ranges recorded in ``calibrated`` (shape (1,)*rank, as its calibrator makes)."""
    rank = {t.Name().decode(): t.ShapeLength() for t in _tensors(calibrated)}
    return {
        n: {"min": np.full((1,) * rank[n], lo, np.float32), "max": np.full((1,) * rank[n], hi, np.float32)}
        for n, (lo, hi) in read_ranges(calibrated).items()
    }


def _quantize(calibrated: bytes, recipe_fn: str, io_dtype: str) -> bytes:
    _require()
    from ai_edge_quantizer import quantizer as aq
    from ai_edge_quantizer import recipe

    q = aq.Quantizer(bytearray(calibrated))
    q.load_quantization_recipe(getattr(recipe, recipe_fn)())
    if io_dtype != "int8" or recipe_fn != "static_wi8_ai8":
        for op in ("INPUT", "OUTPUT"):  # float I/O (a QUANTIZE/DEQUANTIZE pair), rewritten below if asked
            q.update_quantization_recipe(".*", op, None, "no_quantize")
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
        # channels whose weights are all zero get a zero scale; AEQ's bias cast of 0/0 warns, and the bias it writes
        # dequantizes to 0 either way (scale 0); its transformation progress bar ignores enable_progress_bar=False
        warnings.simplefilter("ignore")
        result = q.quantize(_qsvs(calibrated), enable_progress_bar=False, enable_progress_report=False)
    data = bytes(result.quantized_model)
    if io_dtype == "float32" or (io_dtype == "int8" and recipe_fn == "static_wi8_ai8"):
        return data
    return _interface(data, "int16" if recipe_fn == "static_wi8_ai16" else io_dtype)


def _inline(data: bytes) -> bytes:
    """AEQ writes constant buffers after the flatbuffer (offset/size entries); LiteRT's interface rewriter drops
    such data, so they are moved back inside the flatbuffer first (models here are far below its 2 GB limit)."""
    import flatbuffers

    from edgenet.artifacts.tflite_model import tflite_schema

    model = tflite_schema().ModelT.InitFromPackedBuf(bytearray(data), 0)
    for b in model.buffers:
        if b.offset > 1:
            b.data = np.frombuffer(data, np.uint8, b.size, b.offset)
            b.offset = b.size = 0
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _interface(data: bytes, io_dtype: str) -> bytes:
    """Float I/O → integer I/O (the QUANTIZE/DEQUANTIZE at the ends folded into the model's inputs/outputs)."""
    from ai_edge_litert import _pywrap_modify_model_interface as mmi

    from edgenet.artifacts.tflite_model import tflite_schema

    types = tflite_schema().TensorType
    code = {"int8": types.INT8, "uint8": types.UINT8, "int16": types.INT16}[io_dtype]
    with tempfile.TemporaryDirectory(prefix="edgenet-aeq-") as tmp:
        src, dst = Path(tmp) / "in.tflite", Path(tmp) / "out.tflite"
        src.write_bytes(_inline(data))
        if mmi.modify_model_interface(str(src), str(dst), code, code) != 0:
            raise RuntimeError(f"ai-edge-quantizer: the model's I/O could not be made {io_dtype}")
        return dst.read_bytes()


def int8(calibrated: bytes, io_dtype: str = "int8", float_tensors: Sequence[str] = ()) -> bytes:
    """Full-integer int8 (per-channel weights) from a calibrated fp32 model."""
    if float_tensors:
        raise EdgenetError(
            "--keep-float: float fallback of single layers is the tflite quantizer's; use --quantizer tflite"
        )
    return _quantize(calibrated, "static_wi8_ai8", io_dtype)


def int16(fp32: bytes, samples: np.ndarray, io_dtype: str = "int8", progress: Progress = SILENT) -> bytes:
    """16×8 (int16 activations, int8 weights) with AEQ's ``static_wi8_ai16`` recipe on the min/max calibration."""
    from edgenet.quantization.calibrator import calibrate

    return _quantize(calibrate(fp32, samples, progress=progress), "static_wi8_ai16", io_dtype)
