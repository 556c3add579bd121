"""The registry of artefact kinds ``edgenet convert`` builds from a
:class:`~edgenet.converters.graph.FloatGraph`, with TFLite's kinds (fp32, fp16, dynamic, int8, 16×8).

A kind says what file it writes, what it is checked against and how its bytes are made; the pipeline builds,
verifies, reports and publishes every kind the same way. A runtime's kinds live in the module its entry in
:mod:`edgenet.runtimes` names; :func:`load_kinds` imports those modules, and they import only
:mod:`edgenet.converters.kind`, so no module here imports another that imports it back.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from edgenet.converters.graph import FP32_FILE
from edgenet.converters.kind import KINDS, BuildContext, Description, Kind, register

from edgenet.artifacts.tflite_model import TFLiteModel, read_tflite
from edgenet.runtimes import RUNTIMES

__all__ = ["KINDS", "BuildContext", "Description", "Kind", "get_kind", "load_kinds", "register"]


def load_kinds() -> None:
    """Import every registered runtime's kinds module (each registers its kinds once, on import)."""
    for rt in RUNTIMES.values():
        if rt.kinds and rt.kinds != __name__:
            importlib.import_module(rt.kinds)


def get_kind(name: str) -> Kind:
    return KINDS.get_entry(name)


def full_integer(info: TFLiteModel) -> bool:
    """True when no op computes in float (Edge TPU / microcontroller requirement)."""
    float_ops = [o for o in info.ops if any(info.tensors[i].dtype.startswith("float") for i in o.outputs)]
    return not float_ops and "DEQUANTIZE" not in info.op_counts


def describe_tflite(kind: Kind, path: Path, runner: Any = None) -> Description:
    """A .tflite's op census and I/O types from the flatbuffer; TRANSPOSE ops left by conversion are a warning."""
    info = read_tflite(path)
    transposes = info.op_counts.get("TRANSPOSE", 0)
    warnings = [f"{kind.name}: {transposes} TRANSPOSE op(s) left by conversion"] if transposes else []
    return Description(
        info.op_counts,
        info.input_details[0].dtype,
        info.output_details[0].dtype,
        warnings,
        full_integer(info) if kind.full_integer else None,
    )


def _quantizer_name(ctx: BuildContext) -> str:
    return f"{ctx.quantizer.name} quantizer"


def _float_kind(name: str):
    def build(ctx: BuildContext) -> bytes:
        from edgenet.converters.tflite import convert_float

        return convert_float(ctx.graph.concrete_fn, ctx.graph.trackable, name)

    return build


register(
    Kind(
        "fp32",
        FP32_FILE,
        "float32, the reference",
        lambda ctx: ctx.graph.fp32,
        reference="onnx",
        describe=describe_tflite,
    )
)
register(
    Kind(
        "fp16",
        "model_fp16.tflite",
        "float16 weights (half size; native on GPU delegates)",
        _float_kind("fp16"),
        needs_tf_graph=True,
        describe=describe_tflite,
    )
)
register(
    Kind(
        "dynamic",
        "model_dynamic.tflite",
        "int8 weights, float activations quantized on the fly (no calibration)",
        _float_kind("dynamic"),
        needs_tf_graph=True,
        describe=describe_tflite,
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
        tool=_quantizer_name,
        describe=describe_tflite,
    )
)
register(
    Kind(
        "int16",
        "model_int16x8.tflite",
        "16×8: int16 activations, int8 weights (closer to float; no Edge TPU, slower CPU kernels)",
        lambda ctx: ctx.quantizer.int16(ctx.graph.fp32, ctx.samples, ctx.io_dtype, ctx.progress),
        calibrated=True,
        tool=_quantizer_name,
        describe=describe_tflite,
    )
)


load_kinds()  # the other runtimes' kinds: registered whenever this registry is imported
