"""The registry of int8 quantizers: how a calibrated full-integer model is made from the fp32 ``.tflite``.

A quantizer is four functions over plain bytes, so conversion, ``--auto-fix``, ``quant-report`` and the
benchmarks use any of them the same way. Adding one (e.g. Google's ai-edge-quantizer) is one module that builds
a :class:`Quantizer` plus one :func:`register` line here.
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
    methods: tuple[str, ...]  # calibration statistics it offers ("minmax" everywhere)
    # (fp32 .tflite, NCHW samples, progress) -> the model with activation ranges recorded
    calibrate: Callable[[bytes, np.ndarray, Progress], bytes]
    # (calibrated, io dtype, op outputs to keep float) -> full-integer model (not full-integer when any kept)
    int8: Callable[[bytes, str, Sequence[str]], bytes]
    # (fp32, samples, io dtype, progress) -> 16×8 model
    int16: Callable[[bytes, np.ndarray, str, Progress], bytes]
    # (calibrated) -> debug-mode model for TF's QuantizationDebugger
    debug_model: Callable[[bytes], bytes]


QUANTIZERS: Registry[Quantizer] = Registry("--quantizer")
register = QUANTIZERS.register
get_quantizer = QUANTIZERS.get_entry


def _tflite() -> Quantizer:
    from quantization import ptq

    return Quantizer(
        "tflite",
        "TensorFlow Lite's calibrator (min/max) and MLIR quantizer: the reference path",
        ("minmax",),
        lambda fp32, samples, progress: ptq.calibrate(fp32, samples, progress=progress),
        ptq.quantize,
        ptq.quantize_16x8,
        ptq.debug_model,
    )


register(_tflite())
