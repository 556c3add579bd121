"""Post-training quantization with TensorFlow Lite's own tools — the reference quantizer (``--quantizer tflite``).

Everything starts from the *one* fp32 ``.tflite`` that conversion built (``edgenet.converters.graph.FloatGraph``):

- ``fp16`` and ``dynamic`` come from TFLiteConverter on the same TF graph (weights-only; no calibration), which is
  conversion's job (:func:`edgenet.converters.tflite.convert_float`);
- ``int8`` is calibrate → quantize: activation ranges measured once (:func:`calibrate`, min/max), then TF's MLIR
  quantizer — exactly the two calls ``TFLiteConverter.convert()`` makes after converting the float graph again,
  which is why calling them here gives the same model (outputs identical on 300 ImageNet photos, lite0) without a
  second float conversion, and why every int8 variant (float fallback, the debugger's model) reuses one
  calibration;
- ``int16`` (16×8: int16 activations, int8 weights) goes through the calibrator's own quantizer, as the
  converter does for that mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from edgenet.quantization.calibrator import calibrate

from edgenet.progress import SILENT, Progress

__all__ = ["calibrate", "debug_model", "quantize", "quantize_16x8"]

from edgenet.quantization.recipe import IO_DTYPES


def _tf_dtype(io_dtype: str, sixteen: bool = False):
    import tensorflow as tf

    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io dtype {io_dtype!r}: choose one of {', '.join(IO_DTYPES)}")
    if io_dtype == "float32":
        return tf.float32
    return tf.int16 if sixteen else {"int8": tf.int8, "uint8": tf.uint8}[io_dtype]


def quantize(calibrated: bytes, io_dtype: str = "int8", float_tensors: Sequence[str] = ()) -> bytes:
    """Full-integer int8 from a calibrated model, keeping ``float_tensors`` (op outputs) in float when given."""
    from tensorflow.lite.python import convert

    io = _tf_dtype(io_dtype)
    return convert.mlir_quantize(
        calibrated, input_data_type=io, output_data_type=io, denylisted_nodes=list(float_tensors) or None
    )


def debug_model(calibrated: bytes) -> bytes:
    """The debug-mode int8 model TF's QuantizationDebugger reads (NumericVerify beside every quantized op)."""
    from tensorflow.lite.python import convert

    return convert.mlir_quantize(calibrated, enable_numeric_verify=True)


def quantize_16x8(fp32: bytes, samples: np.ndarray, io_dtype: str = "int8", progress: Progress = SILENT) -> bytes:
    """16×8 with the calibrator's own quantizer (TF's converter takes this path for int16 activations too)."""
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator

    from edgenet.diskarray import release

    io = _tf_dtype(io_dtype, sixteen=True)

    def gen():  # one sample in memory at a time (they may be on disk: edgenet.diskarray)
        for i in progress.iterate(range(len(samples)), "calibrating 16×8", len(samples), "img"):
            yield [np.ascontiguousarray(samples[i].transpose(1, 2, 0), dtype=np.float32)[None]]
            release(samples, i)

    model = calibrator.add_intermediate_tensors(fp32)
    return calibrator.Calibrator(model).calibrate_and_quantize(
        gen, io, io, False, tf.int16, tf.int64, disable_per_channel=False
    )
