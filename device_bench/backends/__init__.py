"""Backends: each module's ``run(spec) -> dict`` loads, times and classifies in the process it is called in
(``python -m edgenet.device_bench.worker`` locally, ``remote_runner.py`` on a board), and ``prepare_inputs`` turns
preprocessed float images into what that model takes."""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS = ("tflite", "onnxruntime", "torch", "executorch", "tensorrt")
DELEGATES = {
    "tflite": ("xnnpack", "none", "edgetpu", "gpu", "nnapi"),  # gpu/nnapi: only through benchmark_model on adb
    "onnxruntime": ("none", "tensorrt"),
    "torch": ("none",),
    "executorch": ("xnnpack",),  # what the .pte delegates is decided at export; its ops census is in report.json
    "tensorrt": ("none",),
}
DEFAULT_DELEGATE = {
    "tflite": "xnnpack", "onnxruntime": "none", "torch": "none", "executorch": "xnnpack", "tensorrt": "none"
}  # fmt: skip


def backend_module(name: str) -> ModuleType:
    return importlib.import_module(f"edgenet.device_bench.backends.{name}")
