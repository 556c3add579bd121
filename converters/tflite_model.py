"""Read a .tflite flatbuffer with the official schema (never guess from tensor names).

Used by conversion (op counts, TRANSPOSE check, I/O dtypes), Edge TPU checks and bundling.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgenet.errors import EdgenetError


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - tensorflow ships the same generated module
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_")}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # 'float32', 'int8', 'uint8', 'int16', 'int32', ...
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    is_constant: bool = False


@dataclass(frozen=True)
class OpInfo:
    index: int
    opcode: str  # builtin name such as 'CONV_2D', or 'CUSTOM:<code>'
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass
class TFLiteModel:
    """The first subgraph of a .tflite model: tensors, ops in execution order, inputs and outputs."""

    path: Path
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    metadata_names: list[str] = field(default_factory=list)

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(o.opcode for o in self.ops).items()))

    @property
    def input_details(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_details(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.outputs]


def read_tflite(path: str | Path) -> TFLiteModel:
    """Parse ``path``; a file that is not a TFLite flatbuffer is a one-line :class:`EdgenetError`."""
    schema = _schema()
    path = Path(path)
    if not path.is_file():
        raise EdgenetError(f"{path}: file not found")
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise EdgenetError(f"{path}: not a TFLite model (no TFL3 identifier); pass a .tflite file")
    model = schema.Model.GetRootAsModel(buf, 0)
    builtin = _names(schema.BuiltinOperator)
    ttype = _names(schema.TensorType)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = builtin.get(code, str(code))
        if name == "CUSTOM":
            name = f"CUSTOM:{(oc.CustomCode() or b'').decode()}"
        codes.append(name)
    sg = model.Subgraphs(0)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        q = t.Quantization()
        scale = tuple(float(x) for x in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
        zp = tuple(int(x) for x in q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else ()
        buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        const = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        shape = tuple(int(x) for x in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        tensors.append(
            TensorInfo(i, (t.Name() or b"").decode(), shape, ttype.get(t.Type(), "?").lower(), scale, zp, const)
        )
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        ops.append(OpInfo(i, codes[op.OpcodeIndex()], ins, outs))
    meta = [(model.Metadata(i).Name() or b"").decode() for i in range(model.MetadataLength())]
    return TFLiteModel(
        path=path,
        tensors=tensors,
        ops=ops,
        inputs=[int(x) for x in sg.InputsAsNumpy()],
        outputs=[int(x) for x in sg.OutputsAsNumpy()],
        description=(model.Description() or b"").decode(),
        metadata_names=meta,
    )


def dequantize(x: np.ndarray, t: TensorInfo) -> np.ndarray:
    """Integer tensor values to float with the tensor's (per-tensor) scale and zero point."""
    if not t.scale or t.dtype.startswith("float"):
        return x.astype(np.float32)
    return (x.astype(np.float32) - t.zero_point[0]) * t.scale[0]


def quantize(x: np.ndarray, t: TensorInfo) -> np.ndarray:
    """Float values to the tensor's integer type (round to nearest, saturate)."""
    if not t.scale or t.dtype.startswith("float"):
        return x.astype(np.float32)
    info = np.iinfo(np.dtype(t.dtype))
    q = np.round(x / t.scale[0] + t.zero_point[0])
    return np.clip(q, info.min, info.max).astype(t.dtype)
