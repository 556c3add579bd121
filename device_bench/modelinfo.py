"""What a model file is: format (from its bytes, not its name), input, precision, and the preprocessing and labels
that ``edgenet convert`` stored beside it (``report.json``, ``labels.txt``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from edgenet.artifacts.sidecar import report_preprocess, sidecars
from edgenet.errors import EdgenetError
from edgenet.preprocess import Preprocess
from edgenet.runtimes import RUNTIMES, runtime_for_file

# all from the runtime registry: a format is run by the runtime that declares it
FORMATS = tuple(rt.format for rt in RUNTIMES.values())
DEFAULT_BACKEND = {rt.format: rt.name for rt in RUNTIMES.values()}
RUNS_FORMAT = {rt.name: rt.format for rt in RUNTIMES.values()}
SUFFIX = {rt.format: rt.suffix for rt in RUNTIMES.values()}


@dataclass
class ModelInfo:
    path: Path
    format: str  # a runtime's format (edgenet.runtimes): tflite | onnx | checkpoint | pte | engine | ort
    sha256: str
    bytes: int
    name: str
    precision: str  # fp32 | fp16 | dynamic | int8 (tflite/onnx artefacts); checkpoints are fp32 weights
    input_shape: tuple[int, ...]
    input_dtype: str
    layout: str  # NHWC | NCHW
    preprocess: Preprocess | None  # from report.json or the checkpoint; None when nothing says
    labels: list[str] | None
    ops: dict[str, int] | None = None  # TFLite op counts (Edge TPU check)
    num_outputs: int | None = None  # size of the (first) output's last dimension: the number of classes

    @property
    def resolution(self) -> int | None:
        if len(self.input_shape) == 4:
            return int(self.input_shape[2] if self.layout == "NCHW" else self.input_shape[1])
        return None

    @property
    def edgetpu_compiled(self) -> bool:
        return bool(self.ops) and any(op.startswith("CUSTOM:edgetpu") for op in self.ops)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sniff_format(path: Path) -> str:
    """The format of ``path`` from its content (a runtime's signature, else an ONNX parse), else from its suffix for
    runtimes whose files carry no signature (TensorRT documents none); a one-line error for anything else."""
    if not path.is_file():
        raise EdgenetError(f"{path}: model file not found")
    with open(path, "rb") as f:
        head = f.read(16)
    for rt in RUNTIMES.values():
        if rt.identifies(head):
            return rt.format
    if _looks_like_onnx(path):
        return "onnx"
    rt = runtime_for_file(path)
    if rt is not None and rt.signature is None and rt.format != "onnx":
        return rt.format
    names = ", ".join(f"{rt.label} {rt.suffix}" for rt in RUNTIMES.values() if rt.format != "checkpoint")
    raise EdgenetError(f"{path}: not a model edgenet can benchmark (expected {names} or an edgenet checkpoint .pt)")


def _looks_like_onnx(path: Path) -> bool:
    import onnx

    try:
        m = onnx.load_model(str(path), load_external_data=False)
    except Exception:
        return False
    return m.ir_version > 0 and len(m.graph.node) > 0 and len(m.graph.input) > 0


def _precision_from(path: Path, report: dict, fallback: str) -> str:
    for art in report.get("artifacts", []) or []:
        if Path(str(art.get("file", ""))).name == path.name and art.get("name"):
            m = re.search(r"(fp32|fp16|int8)", str(art["name"]))  # "executorch_int8" is int8; "int16" stays
            return m.group(1) if m and art["name"] != m.group(1) else str(art["name"])
    m = re.search(r"(fp32|fp16|dynamic|int8|uint8)", path.stem)
    return m.group(1) if m else fallback


def inspect_model(path: str | Path) -> ModelInfo:
    """Read just enough of a model to plan its benchmark (format, input, precision, preprocessing, labels)."""
    path = Path(path)
    fmt = sniff_format(path)
    digest, size = sha256_file(path), path.stat().st_size
    if fmt == "checkpoint":
        from edgenet.checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        res = ck.preprocess.resolution
        return ModelInfo(
            path,
            fmt,
            digest,
            size,
            ck.model_name,
            "fp32",
            (1, 3, res, res),
            "float32",
            "NCHW",
            ck.preprocess,
            ck.classes,
            num_outputs=ck.num_classes,
        )
    report, labels = sidecars(path)
    name = str(report.get("model") or path.stem)
    if fmt not in ("tflite", "onnx"):  # other runtimes describe their files through their own runner
        return _runtime_info(path, fmt, digest, size, name, report, labels)
    if fmt == "tflite":
        from edgenet.artifacts.tflite_model import read_tflite

        tm = read_tflite(path)
        t = tm.input_details[0]
        dtype = t.dtype
        prec = _precision_from(path, report, "int8" if dtype in ("int8", "uint8") else "fp32")
        layout = "NCHW" if len(t.shape) == 4 and t.shape[1] == 3 and t.shape[3] != 3 else "NHWC"
        out = tm.output_details[0].shape
        return ModelInfo(
            path,
            fmt,
            digest,
            size,
            name,
            prec,
            t.shape,
            dtype,
            layout,
            report_preprocess(report, path),
            labels,
            tm.op_counts,
            num_outputs=int(out[-1]) if out else None,
        )
    import onnx
    from onnx import helper

    m = onnx.load_model(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inp = next(i for i in m.graph.input if i.name not in inits)
    tt = inp.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
    dtype = str(helper.tensor_dtype_to_np_dtype(tt.elem_type))
    layout = "NHWC" if len(shape) == 4 and shape[3] == 3 and shape[1] != 3 else "NCHW"
    prec = _precision_from(path, report, "fp32")
    odims = m.graph.output[0].type.tensor_type.shape.dim
    n_out = odims[-1].dim_value if odims and odims[-1].HasField("dim_value") else None
    return ModelInfo(
        path,
        fmt,
        digest,
        size,
        name,
        prec,
        shape,
        dtype,
        layout,
        report_preprocess(report, path),
        labels,
        num_outputs=n_out,
    )


def _runtime_info(path: Path, fmt: str, digest: str, size: int, name: str, report: dict, labels) -> ModelInfo:
    """A file of another runtime (ExecuTorch, TensorRT, ONNX Runtime Mobile), described by its runner (which needs
    that runtime here)."""
    from edgenet.artifacts.runtime import runner_class

    try:
        runner = runner_class(path)(path, 1)
    except EdgenetError as e:
        msg = str(e)
        raise EdgenetError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    io = runner.io()
    return ModelInfo(
        path,
        fmt,
        digest,
        size,
        name,
        _precision_from(path, report, "fp32"),
        tuple(int(d) for d in io.input_shape),
        io.input_dtype,
        "NCHW",
        report_preprocess(report, path),
        labels,
        num_outputs=int(io.output_shape[-1]) if io.output_shape else None,
    )
