"""The registry of artefact kinds ``edgenet convert`` can build from a :class:`~edgenet.converters.graph.FloatGraph`.

A kind says what file it writes, what it is checked against and how its bytes are made; the pipeline builds,
verifies, reports and publishes every kind the same way. Adding one (another runtime, another precision) is one
module that defines a :class:`Kind` and one :func:`register` line (below, or in that module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from edgenet.converters.graph import FP32_FILE, FloatGraph

from edgenet.progress import SILENT, Progress
from edgenet.registry import Registry


@dataclass
class BuildContext:
    """What a kind's builder may use: the float graph, calibration samples, the quantizer, the calibration method and
    the I/O choice.

    ``model`` is the PyTorch module itself, for runtimes that export from it (ExecuTorch) rather than from the graph;
    ``details`` collects what a builder alone knows (e.g. ExecuTorch's delegation counts) for report.json."""

    graph: FloatGraph
    samples: np.ndarray | None = field(default=None, repr=False)
    quantizer: object = None  # edgenet.quantization.quantizers.Quantizer
    io_dtype: str = "int8"
    progress: Progress = SILENT
    method: str = "minmax"  # --calibration: how activation ranges are chosen (edgenet.quantization.calibration_methods)
    model: Any = field(default=None, repr=False)  # torch.nn.Module
    details: dict[str, dict] = field(default_factory=dict)  # kind name -> extra report.json entries

    def calibrated(self) -> bytes:
        if self.samples is None or not len(self.samples):
            raise ValueError("this artefact kind needs calibration samples")
        return self.graph.calibrated(self.quantizer, self.samples, self.progress, self.method)


@dataclass(frozen=True)
class Kind:
    name: str
    file: str
    help: str
    build: Callable[[BuildContext], bytes]
    calibrated: bool = False  # needs calibration samples
    full_integer: bool = False  # must contain no float op (checked)
    reference: str = "fp32"  # the artefact its outputs are compared with ("onnx", "fp32" or another kind's name)
    runtime: str = "tflite"  # what runs it for verification (edgenet.artifacts.runtime.runner_for, by file suffix)
    tolerance: tuple[float, float] | None = None  # (atol, rtol) for float kinds checked against a float reference


KINDS: Registry[Kind] = Registry("artefact kind")
register = KINDS.register
get_kind = KINDS.get_entry


def _float_kind(name: str):
    def build(ctx: BuildContext) -> bytes:
        from edgenet.quantization.ptq import convert_float

        return convert_float(ctx.graph.concrete_fn, ctx.graph.trackable, name)

    return build


register(Kind("fp32", FP32_FILE, "float32, the reference", lambda ctx: ctx.graph.fp32, reference="onnx"))
register(Kind("fp16", "model_fp16.tflite", "float16 weights (half size; native on GPU delegates)", _float_kind("fp16")))
register(
    Kind(
        "dynamic",
        "model_dynamic.tflite",
        "int8 weights, float activations quantized on the fly (no calibration)",
        _float_kind("dynamic"),
    )
)
register(
    Kind(
        "int8",
        "model_int8.tflite",
        "full-integer int8: per-channel weights, calibrated activations (Edge TPU, microcontrollers)",
        lambda ctx: ctx.quantizer.int8(ctx.calibrated(), ctx.io_dtype, ()),
        calibrated=True,
        full_integer=True,
    )
)
register(
    Kind(
        "int16",
        "model_int16x8.tflite",
        "16×8: int16 activations, int8 weights (closer to float; no Edge TPU, slower CPU kernels)",
        lambda ctx: ctx.quantizer.int16(ctx.graph.fp32, ctx.samples, ctx.io_dtype, ctx.progress),
        calibrated=True,
    )
)


# Kinds of other runtimes live in their own modules and register themselves on import.
from edgenet.converters import executorch as _executorch  # noqa: E402, F401
from edgenet.converters import tensorrt as _tensorrt  # noqa: E402, F401
