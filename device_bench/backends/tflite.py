"""TFLite (ai-edge-litert → tflite-runtime → tf.lite): XNNPACK or reference kernels, threads, the Edge TPU delegate.

The measuring code is :mod:`edgenet.device_bench.remote_runner`, shared with boards reached over ssh; this module
adds what needs edgenet itself: the Edge TPU compilation check and quantizing eval inputs with the model's own scale and
zero point (``edgenet.artifacts.tflite_model``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from edgenet.device_bench.modelinfo import ModelInfo
from edgenet.device_bench.remote_runner import run_tflite

from edgenet.errors import EdgenetError


def check(info: ModelInfo, delegate: str) -> None:
    """Refuse an Edge TPU run of a model ``edgetpu_compiler`` has not compiled: it would silently run on the CPU."""
    if delegate == "edgetpu" and not info.edgetpu_compiled:
        raise EdgenetError(
            f"{info.path}: not compiled for the Edge TPU (no edgetpu-custom-op in the graph); run "
            f"`edgetpu_compiler {info.path.name}` on the int8 model and bench the *_edgetpu.tflite it writes"
        )


def input_converter(info: ModelInfo) -> Callable[[np.ndarray], np.ndarray]:
    """Float NHWC images → the input tensor's type, quantized with its scale/zero point when it is int8/uint8."""
    from edgenet.artifacts.tflite_model import quantize, read_tflite

    tensor = read_tflite(info.path).input_details[0]
    return lambda x: quantize(x, tensor)


def run(spec: dict) -> dict:
    return run_tflite(spec)
