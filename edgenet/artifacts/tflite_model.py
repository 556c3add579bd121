"""Read a .tflite flatbuffer with the official schema (never guess from tensor names).

Used by conversion (op counts, TRANSPOSE check, I/O dtypes), Edge TPU checks and bundling. The Edge TPU check
needs more than names: builtin options (a pooling op's fused activation, a convolution's dilation), operator
versions, dynamic shape signatures and small constant inputs (MEAN axes, PAD paddings, RESHAPE shapes) — all read
here from the same official schema.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgenet.errors import EdgenetError


def tflite_schema():
    """TFLite's generated flatbuffer classes (ai-edge-litert's, else TensorFlow's): what every reader and writer of
    .tflite bytes in edgenet (here, quantization, edgenet.converters.metadata) parses them with."""
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
    shape_signature: tuple[int, ...] = ()  # -1 marks a dynamic dimension; () when the file records none


@dataclass(frozen=True)
class OpInfo:
    index: int
    opcode: str  # builtin name such as 'CONV_2D', or 'CUSTOM:<code>'
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    version: int = 1
    # builtin options, snake_case keys as in schema.fbs (fused_activation_function as a name such as 'RELU6')
    options: dict = field(default_factory=dict, hash=False, compare=False)


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
    num_subgraphs: int = 1
    _data: bytes = field(default=b"", repr=False)
    _buffer_of: list[int] = field(default_factory=list, repr=False)  # tensor index -> buffer index

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(o.opcode for o in self.ops).items()))

    @property
    def input_details(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_details(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.outputs]

    def constant(self, index: int) -> np.ndarray | None:
        """The value of constant tensor ``index`` (a zero-copy view), or None for activations."""
        t = self.tensors[index]
        if not t.is_constant or not self._data:
            return None
        buf = tflite_schema().Model.GetRootAsModel(self._data, 0).Buffers(self._buffer_of[index])
        if buf.DataLength() == 0:  # stored outside the flatbuffer (models > 2 GB): not needed for checks
            return None
        try:
            dtype = np.dtype(t.dtype)
        except TypeError:
            return None
        return buf.DataAsNumpy().view(dtype).reshape(t.shape)


def read_tflite(path: str | Path) -> TFLiteModel:
    """Parse ``path``; a file that is not a TFLite flatbuffer, or a cut-off or corrupt one, is a one-line
    :class:`EdgenetError`."""
    import struct

    schema = tflite_schema()
    path = Path(path)
    if not path.is_file():
        raise EdgenetError(f"{path}: file not found")
    buf = path.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise EdgenetError(f"{path}: not a TFLite model (no TFL3 identifier); pass a .tflite file")
    try:  # a truncated or corrupt flatbuffer fails anywhere in here, as struct.error, IndexError, …
        model = schema.Model.GetRootAsModel(buf, 0)
        builtin = _names(schema.BuiltinOperator)
        ttype = _names(schema.TensorType)
        codes, versions = [], []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = builtin.get(code, str(code))
            if name == "CUSTOM":
                name = f"CUSTOM:{(oc.CustomCode() or b'').decode()}"
            codes.append(name)
            versions.append(int(oc.Version()))
        sg = model.Subgraphs(0)
        tensors, buffer_of = [], []
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            q = t.Quantization()
            scale = tuple(float(x) for x in q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else ()
            zp = tuple(int(x) for x in q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else ()
            buffer = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
            const = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
            shape = tuple(int(x) for x in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            signature = tuple(int(x) for x in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else ()
            name, dtype = (t.Name() or b"").decode(), ttype.get(t.Type(), "?").lower()
            tensors.append(TensorInfo(i, name, shape, dtype, scale, zp, const, signature))
            buffer_of.append(int(t.Buffer()))
        ops = []
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
            outs = tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else ()
            idx = op.OpcodeIndex()
            ops.append(OpInfo(i, codes[idx], ins, outs, versions[idx], _options(schema, op)))
        meta = [(model.Metadata(i).Name() or b"").decode() for i in range(model.MetadataLength())]
        for i in range(model.BuffersLength()):  # a cut-off file ends inside its weights: the tables still parse
            b = model.Buffers(i)
            if b.DataLength():
                b.DataAsNumpy()  # numpy's ValueError when the data runs past the end of the file
            if b.Offset() + b.Size() > len(buf):
                raise ValueError(f"buffer {i} ends past the end of the file")
        return TFLiteModel(
            path=path,
            tensors=tensors,
            ops=ops,
            inputs=[int(x) for x in sg.InputsAsNumpy()],
            outputs=[int(x) for x in sg.OutputsAsNumpy()],
            description=(model.Description() or b"").decode(),
            metadata_names=meta,
            num_subgraphs=int(model.SubgraphsLength()),
            _data=buf,
            _buffer_of=buffer_of,
        )

    except (struct.error, IndexError, ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError):
        raise EdgenetError(
            f"{path}: truncated or corrupt TFLite model ({len(buf):,} bytes); convert it again or copy the complete "
            "file"
        ) from None


def _options(schema, op) -> dict:
    """An operator's builtin options as a plain dict, decoded through the schema's object API."""
    kind = _names(schema.BuiltinOptions).get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    reader, plain = getattr(schema, kind, None), getattr(schema, kind + "T", None)
    if kind == "NONE" or table is None or reader is None or plain is None:
        return {}
    obj = reader()
    obj.Init(table.Bytes, table.Pos)
    out = {}
    for key, value in vars(plain.InitFromObj(obj)).items():
        value = value.tolist() if hasattr(value, "tolist") else value
        if value is None or isinstance(value, bool | int | float | str | list):  # nested tables are not needed
            out[re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()] = value
    if "fused_activation_function" in out:
        out["fused_activation_function"] = _names(schema.ActivationFunctionType)[out["fused_activation_function"]]
    return out


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
