"""Coral's documented Edge TPU operations and their limitations, as data.

Source: "TensorFlow models on the Edge TPU" (coral.ai/docs/edgetpu/models-intro, section "Supported operations",
the revision that documents Edge TPU compiler 16 / runtime 14; the limitation texts below are Coral's, lightly
shortened). Each entry maps the TFLite builtin operator(s) to Coral's name, its documented limitation and a check
of that limitation against the flatbuffer. Limitations Coral states without a rule we could check ("certain reshapes
might not be mapped for large tensor sizes") are recorded as notes, not guessed.

Axes follow TFLite's NHWC layout: in a 4-D tensor axis 0 is the batch, 1 and 2 are y and x, 3 is z (channels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgenet.artifacts.tflite_model import OpInfo, TFLiteModel

Check = Callable[[TFLiteModel, OpInfo], str | None]


@dataclass(frozen=True)
class Supported:
    """One row of Coral's table: ``check`` returns the broken limitation in words, or None."""

    coral_name: str
    limitation: str = ""
    check: Check | None = None
    fix: str = ""
    note: str = ""  # a documented limitation that cannot be checked from the file


def _shape(model: TFLiteModel, op: OpInfo, i: int = 0, out: bool = False) -> tuple[int, ...]:
    idx = (op.outputs if out else op.inputs)[i]
    return model.tensors[idx].shape if idx >= 0 else ()


def _non_unit(shape: tuple[int, ...]) -> int:
    return sum(1 for d in shape if d > 1)


def _axes(model: TFLiteModel, op: OpInfo, i: int, rank: int) -> list[int] | None:
    if len(op.inputs) <= i:
        return None
    value = model.constant(op.inputs[i])
    return None if value is None else sorted({int(a) % max(rank, 1) for a in np.ravel(value)})


def _no_fused_activation(model: TFLiteModel, op: OpInfo) -> str | None:
    act = op.options.get("fused_activation_function", "NONE")
    return None if act == "NONE" else f"fused activation {act}"


def _same_dilation(model: TFLiteModel, op: OpInfo) -> str | None:
    h, w = op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1)
    return None if h == w else f"dilation {h} in y but {w} in x"


def _reduce(z_multiple_of_4: bool) -> Check:
    def check(model: TFLiteModel, op: OpInfo) -> str | None:
        shape = _shape(model, op)
        axes = _axes(model, op, 1, len(shape))
        if axes is None:
            return "reduction axes are not a compile-time constant"
        if len(shape) == 4 and 0 in axes:
            return "reduces over the batch dimension"
        if z_multiple_of_4 and len(shape) - 1 in axes and shape[-1] % 4:
            return f"reduces over z (channels) of size {shape[-1]}, not a multiple of 4"
        return None

    return check


def _pad(model: TFLiteModel, op: OpInfo) -> str | None:
    pads = model.constant(op.inputs[1]) if len(op.inputs) > 1 else None
    if pads is None:
        return "paddings are not a compile-time constant"
    return "pads the batch dimension" if pads.ndim == 2 and len(pads) == 4 and np.any(pads[0]) else None


def _concatenation(model: TFLiteModel, op: OpInfo) -> str | None:
    if broken := _no_fused_activation(model, op):
        return broken
    constants = [model.constant(i) for i in op.inputs if model.tensors[i].is_constant]
    if not constants:
        return None
    if len(op.inputs) != 2:
        return f"a constant input among {len(op.inputs)} inputs (only 2 inputs allowed then)"
    zero = model.tensors[next(i for i in op.inputs if model.tensors[i].is_constant)].zero_point
    if any(c is None or np.any(c != (zero[0] if zero else 0)) for c in constants):
        return "a constant input that is not all zeros"
    return None


def _fully_connected(model: TFLiteModel, op: OpInfo) -> str | None:
    if op.options.get("weights_format", 0) != 0:
        return "non-default (shuffled) weights format"
    out = _shape(model, op, out=True)
    return None if _non_unit(out) <= 1 else f"output {list(out)} is not one-dimensional"


def _pack(model: TFLiteModel, op: OpInfo) -> str | None:
    return "packs along the batch dimension" if op.options.get("axis", 0) == 0 else None


def _prelu(model: TFLiteModel, op: OpInfo) -> str | None:
    alpha = _shape(model, op, 1)
    return None if _non_unit(alpha[:-1]) == 0 else f"alpha {list(alpha)} is not 1-dimensional"


def _softmax(model: TFLiteModel, op: OpInfo) -> str | None:
    shape = _shape(model, op)
    if _non_unit(shape) > 1:
        return f"input {list(shape)} is not 1-D"
    n = int(np.prod(shape)) if shape else 1
    return f"{n} elements (max 16,000)" if n > 16000 else None


def _split(model: TFLiteModel, op: OpInfo) -> str | None:
    rank = len(model.tensors[op.inputs[1]].shape) if len(op.inputs) > 1 else 0
    axes = _axes(model, op, 0, rank)
    return "splits the batch dimension" if rank == 4 and axes == [0] else None


def _squeeze(model: TFLiteModel, op: OpInfo) -> str | None:
    shape = _shape(model, op)
    dims = op.options.get("squeeze_dims") or [i for i, d in enumerate(shape) if d == 1]
    leading = next((i for i, d in enumerate(shape) if d != 1), len(shape))
    moved = [d % len(shape) for d in dims if d % len(shape) >= leading] if shape else []
    return None if not moved else f"squeezes dimensions {moved} that are not leading 1s (needs a relayout)"


def _strided_slice(model: TFLiteModel, op: OpInfo) -> str | None:
    strides = model.constant(op.inputs[3]) if len(op.inputs) > 3 else None
    if strides is None or np.any(strides != 1):
        return "strides other than 1"
    if op.options.get("ellipsis_mask", 0) or op.options.get("new_axis_mask", 0):
        return "ellipsis or new-axis mask"
    return None


_REDUCE_FIX = "reduce over height/width only (global average pooling), never over the batch"
_ACT_FIX = "apply the activation before the pooling/concatenation instead of fusing it"

SUPPORTED: dict[str, Supported] = {
    "ADD": Supported("Add"),
    "AVERAGE_POOL_2D": Supported("AveragePool2d", "No fused activation function.", _no_fused_activation, _ACT_FIX),
    "CONCATENATION": Supported(
        "Concatenation",
        "No fused activation function. If any input is a compile-time constant tensor, there must be only 2 "
        "inputs, and this constant tensor must be all zeroes (effectively, a zero-padding op).",
        _concatenation,
        _ACT_FIX,
    ),
    "CONV_2D": Supported("Conv2d", "Must use the same dilation in x and y dimensions.", _same_dilation),
    "DEPTHWISE_CONV_2D": Supported(
        "DepthwiseConv2d", "Must use the same dilation in x and y dimensions.", _same_dilation
    ),
    "EXPAND_DIMS": Supported("ExpandDims"),
    "FULLY_CONNECTED": Supported(
        "FullyConnected",
        "Only the default format is supported for fully-connected weights. Output tensor is one-dimensional.",
        _fully_connected,
        "flatten/pool to a [1, N] vector before the classifier",
    ),
    "L2_NORMALIZATION": Supported("L2Normalization"),
    "LOGISTIC": Supported("Logistic"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": Supported("LSTM", "Unidirectional LSTM only."),
    "MAXIMUM": Supported("Maximum"),
    "MAX_POOL_2D": Supported("MaxPool2d", "No fused activation function.", _no_fused_activation, _ACT_FIX),
    "MEAN": Supported(
        "Mean",
        "No reduction in batch dimension. If a z-reduction, the z-dimension must be multiple of 4.",
        _reduce(z_multiple_of_4=True),
        _REDUCE_FIX,
    ),
    "MINIMUM": Supported("Minimum"),
    "MUL": Supported("Mul"),
    "PACK": Supported("Pack", "No packing in batch dimension.", _pack),
    "PAD": Supported("Pad", "No padding in batch dimension.", _pad, "pad height/width only"),
    "PRELU": Supported(
        "PReLU",
        "Alpha must be 1-dimensional (only the innermost dimension can be >1 size).",
        _prelu,
        "use Keras PReLU with shared_axes=[1, 2]",
    ),
    "QUANTIZE": Supported("Quantize"),
    "REDUCE_MAX": Supported("ReduceMax", "Cannot operate on the batch dimension.", _reduce(False), _REDUCE_FIX),
    "REDUCE_MIN": Supported("ReduceMin", "Cannot operate on the batch dimension.", _reduce(False), _REDUCE_FIX),
    "RELU": Supported("ReLU"),
    "RELU6": Supported("ReLU6"),
    "RELU_N1_TO_1": Supported("ReLUN1To1"),
    "RESHAPE": Supported("Reshape", note="Certain reshapes might not be mapped for large tensor sizes."),
    "RESIZE_BILINEAR": Supported(
        "ResizeBilinear",
        "Input/output is a 3-dimensional tensor.",
        note="Depending on input/output size, this operation might not be mapped, to avoid loss in precision.",
    ),
    "RESIZE_NEAREST_NEIGHBOR": Supported(
        "ResizeNearestNeighbor",
        "Input/output is a 3-dimensional tensor.",
        note="Depending on input/output size, this operation might not be mapped, to avoid loss in precision.",
    ),
    "RSQRT": Supported("Rsqrt"),
    "SLICE": Supported("Slice"),
    "SOFTMAX": Supported(
        "Softmax",
        "Supports only 1-D input tensor with a max of 16,000 elements.",
        _softmax,
        "drop the softmax from the model and apply it in the app",
    ),
    "SPACE_TO_DEPTH": Supported("SpaceToDepth"),
    "SPLIT": Supported("Split", "No splitting in batch dimension.", _split),
    "SQUARED_DIFFERENCE": Supported("SquaredDifference"),
    "SQUEEZE": Supported(
        "Squeeze", "Supported only when the squeezed dimensions are leading 1s (no relayout).", _squeeze
    ),
    "STRIDED_SLICE": Supported(
        "StridedSlice",
        "Supported only when all strides are equal to 1, with ellipsis-axis-mask == 0 and new-axis-mask == 0.",
        _strided_slice,
        "slice with unit strides",
    ),
    "SUB": Supported("Sub"),
    "SUM": Supported("Sum", "Cannot operate on the batch dimension.", _reduce(False), _REDUCE_FIX),
    "TANH": Supported("Tanh"),
    "TRANSPOSE": Supported("Transpose"),
    "TRANSPOSE_CONV": Supported("TransposeConv"),
}

# Operators outside the table that models commonly contain, with the change that removes them.
UNSUPPORTED_FIXES: dict[str, str] = {
    "HARD_SWISH": "hardswish activation: use a Lite or EdgeTPU variant (ReLU6/ReLU activations)",
    "LEAKY_RELU": "LeakyReLU: use ReLU/ReLU6, or PReLU with shared_axes=[1, 2]",
    "GELU": "GELU: use a Lite or EdgeTPU variant (ReLU6/ReLU activations)",
    "ELU": "ELU: use a Lite or EdgeTPU variant (ReLU6/ReLU activations)",
    "DEQUANTIZE": "a float section: convert with full-integer quantization (edgenet convert --int8)",
    "CAST": "a type cast: keep the whole graph in int8 (edgenet convert --int8 --int8-io uint8)",
    "ARG_MAX": "take the arg-max in the app, after the model",
    "MIRROR_PAD": "use zero padding (PAD) instead of reflect/symmetric padding",
    "PADV2": "pad with zeros (PAD) instead of a constant value",
}


def fix_for_unsupported(opcode: str) -> str:
    """The change that removes ``opcode`` from the graph (or moves it where it costs least)."""
    return UNSUPPORTED_FIXES.get(
        opcode,
        f"{opcode} is not in Coral's supported-operation list: replace it (the Lite and EdgeTPU variants use "
        "only supported ops) or move it after the last Edge TPU op",
    )
