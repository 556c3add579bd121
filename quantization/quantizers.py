"""The registry of int8 quantizers: how a calibrated full-integer model is made from the fp32 ``.tflite``.

A quantizer is three functions over plain bytes, so conversion, ``--auto-fix``, ``quant-report`` and the
benchmarks use any of them the same way. All read the same *calibrated model* — the fp32 ``.tflite`` with each
activation's range recorded (:func:`edgenet.quantization.calibrator.calibrate`) and, for ``--calibration`` methods
other than min/max, narrowed by :mod:`edgenet.quantization.calibration_methods` — so every method works with every
quantizer, and a comparison of quantizers compares only how they quantize. Adding one is one module plus one
:func:`register` line here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgenet.progress import Progress
from edgenet.registry import Registry


@dataclass(frozen=True)
class Quantizer:
    name: str
    description: str
    # (calibrated, io dtype, op outputs to keep float) -> full-integer model (not full-integer when any kept)
    int8: Callable[[bytes, str, Sequence[str]], bytes]
    # (fp32, samples, io dtype, progress) -> 16×8 model
    int16: Callable[[bytes, np.ndarray, str, Progress], bytes]
    # (calibrated) -> debug-mode model for TF's QuantizationDebugger
    debug_model: Callable[[bytes], bytes]
    available: Callable[[], bool] = lambda: True  # its library is installed
    rounding: str = (
        "to nearest, ties away from zero"  # how weights are rounded (edgenet.quantization.recipe.Int8Recipe)
    )


QUANTIZERS: Registry[Quantizer] = Registry("--quantizer")
register = QUANTIZERS.register
get_quantizer = QUANTIZERS.get_entry


def _lazy(module: str, fn: str) -> Callable:
    def call(*args, **kwargs):
        import importlib

        return getattr(importlib.import_module(module), fn)(*args, **kwargs)

    return call


register(
    Quantizer(
        "tflite",
        "TensorFlow Lite's MLIR quantizer (what TFLiteConverter runs): the reference path",
        _lazy("edgenet.quantization.ptq", "quantize"),
        _lazy("edgenet.quantization.ptq", "quantize_16x8"),
        _lazy("edgenet.quantization.ptq", "debug_model"),
        rounding="to nearest, ties away from zero",  # MLIR's quantizer: APFloat rmNearestTiesToAway
    )
)
register(
    Quantizer(
        "aeq",
        "Google's ai-edge-quantizer (static_wi8_ai8 recipe) on the same calibration",
        _lazy("edgenet.quantization.aeq", "int8"),
        _lazy("edgenet.quantization.aeq", "int16"),
        _lazy("edgenet.quantization.ptq", "debug_model"),
        _lazy("edgenet.quantization.aeq", "available"),
        "to nearest, ties to even",  # numpy's rint in ai-edge-quantizer's uniform quantizer
    )
)
