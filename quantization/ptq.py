"""Stage 3: TFLite serialization and post-training quantization with TensorFlow's own converter.

- ``fp32``: no optimization.
- ``fp16``: weights stored as float16 (half the size; dequantized on CPU, native on GPU delegates).
- ``dynamic``: int8 weights, float activations quantized on the fly (no calibration data needed).
- ``int8``: full-integer — every op int8 with per-channel weights, int8/uint8 (or float) model I/O,
  activation ranges calibrated on the representative dataset. Edge TPUs and microcontrollers need this.
- ``int16``: 16×8 — int16 activations, int8 weights (issue 6's accuracy fallback; no Edge TPU support).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

KINDS = ("fp32", "fp16", "dynamic", "int8", "int16")


def to_tflite(
    concrete_fn,
    trackable,
    kind: str,
    calibration: np.ndarray | None = None,
    io_dtype: str = "int8",
    progress: bool = True,
    configure: Callable | None = None,
) -> bytes:
    """Serialize ``concrete_fn`` as ``kind``; ``calibration`` is NCHW float32 (transposed to NHWC here)."""
    conv = make_converter(concrete_fn, trackable, kind, calibration, io_dtype, progress)
    if configure is not None:  # hook for issue 6's fixes (e.g. selective float fallback)
        configure(conv)
    return conv.convert()


def make_converter(
    concrete_fn,
    trackable,
    kind: str,
    calibration: np.ndarray | None = None,
    io_dtype: str = "int8",
    progress: bool = True,
):
    """The configured ``tf.lite.TFLiteConverter`` for ``kind`` (TF's QuantizationDebugger takes it as is)."""
    import tensorflow as tf

    if kind not in KINDS:
        raise ValueError(f"unknown artefact kind {kind!r}")
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete_fn], trackable)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if kind == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif kind == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind in ("int8", "int16"):
        if calibration is None or not len(calibration):
            raise ValueError(f"{kind} quantization needs calibration samples")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = _representative(calibration, progress)
        if kind == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io_types = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}
        else:
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
            io_types = {"int8": tf.int16, "uint8": tf.int16, "float32": tf.float32}
        conv.inference_input_type = io_types[io_dtype]
        conv.inference_output_type = io_types[io_dtype]
    return conv


def _representative(calibration: np.ndarray, progress: bool):
    from tqdm import tqdm

    def gen():
        bar = tqdm(
            calibration,
            desc="calibrating",
            unit="img",
            file=sys.stderr,
            leave=False,
            disable=None if progress else True,
        )
        for x in bar:
            yield [np.ascontiguousarray(x.transpose(1, 2, 0))[None].astype(np.float32)]

    return gen
