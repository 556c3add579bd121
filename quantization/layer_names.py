"""Which EfficientNet layer a TFLite tensor belongs to: stage, block and part (expand / depthwise / se / project).

onnx2tf names TensorFlow ops after their kind and a counter (``model_2/tf.nn.convolution_33/convolution``), so a
TFLite tensor name says nothing about the network. The ONNX graph does: TorchScript export names every node after
its module path (``/stages.3/stages.3.1/depthwise/conv/Conv``). We bridge the two by *value*, not by guessing from
names: one input runs through the fp32 TFLite model (every tensor kept) and through ONNX Runtime (every node output
exposed); each TFLite tensor is matched to the ONNX tensor holding the same numbers (NHWC vs NCHW). Tensors with no
ONNX twin (a PAD that onnx2tf split off a convolution) take the layer of the op that consumes them.

The fp32 model, the calibrated model, the debugger's model and the int8 model all share TFLite tensor names, so a
match made on fp32 names the int8 tensors too.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_BLOCK = re.compile(r"^stages\.(\d+)\.(\d+)(?:\.([A-Za-z_]\w*))?")
MATCH_RTOL = 1e-3  # fp32 TFLite vs ONNX Runtime differ by ~1e-5 relative; a different tensor by ~1


@dataclass(frozen=True)
class Location:
    """Where a tensor sits in the network: ``layer`` is the label users see and pass to ``--keep-float``."""

    layer: str  # "stem", "stages.3.1.depthwise", "stages.3.1.residual", "head", "pool", "classifier", ...
    stage: int | None = None
    block: int | None = None
    part: str = ""  # expand | depthwise | se | project | residual | stem | head | pool | classifier | <op>
    onnx_node: str = ""


UNKNOWN = Location("?")


def module_path(onnx_node: str) -> str:
    """``/stages.3/stages.3.1/depthwise/conv/Conv`` → ``stages.3.1.depthwise.conv`` (the torch module path).

    TorchScript scopes repeat the full path for indexed children (``stages.3`` then ``stages.3.1``) and give
    named children alone (``depthwise``), so a component that extends the path replaces it, others are appended.
    """
    path = ""
    for part in [p for p in onnx_node.split("/") if p][:-1]:  # the last component is the op itself
        path = part if not path or part.startswith(path + ".") else f"{path}.{part}"
    return path


def locate(onnx_node: str) -> Location:
    """The stage/block/part of an ONNX node named by TorchScript export."""
    path = module_path(onnx_node)
    m = _BLOCK.match(path)
    if m:
        stage, block, part = int(m[1]), int(m[2]), m[3] or "residual"
        return Location(f"stages.{stage}.{block}.{part}", stage, block, part, onnx_node)
    top = path.split(".")[0] if path else onnx_node.rstrip("/").split("/")[-1].split("_")[0].lower()
    return Location(top or "?", None, None, top, onnx_node)


def _onnx_tensors(onnx_path: Path, x: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    """Every float node output of the ONNX graph on ``x`` (NCHW), as (producing node names, values)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    known = {o.name for o in model.graph.output}
    nodes = []
    for node in model.graph.node:
        if node.op_type in ("Constant", "Shape"):
            continue
        for out in node.output:
            if out and out not in known:
                model.graph.output.append(onnx.helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None))
                known.add(out)
            nodes.append((node.name or out, out))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x[None].astype(np.float32)})))
    keep = [(n, values[o]) for n, o in nodes if o in values and np.issubdtype(values[o].dtype, np.floating)]
    return [n for n, _ in keep], [np.asarray(v) for _, v in keep]


def _nhwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def match_tensors(fp32_tflite: str | Path, onnx_path: str | Path, sample: np.ndarray) -> dict[str, Location]:
    """Map every op-output tensor name of ``fp32_tflite`` to its network :class:`Location`.

    ``sample`` is one preprocessed image (CHW float32); a real image gives distinct values to every tensor.
    """
    from edgenet.artifacts.runtime import tflite_interpreter_class
    from edgenet.artifacts.tflite_model import read_tflite

    info = read_tflite(fp32_tflite)
    cls, _ = tflite_interpreter_class()
    with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": that is what this is
        warnings.simplefilter("ignore")
        interp = cls(model_path=str(fp32_tflite), experimental_preserve_all_tensors=True, num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ascontiguousarray(sample.transpose(1, 2, 0))[None])
    interp.invoke()

    onnx_nodes, onnx_values = _onnx_tensors(Path(onnx_path), sample)
    by_shape: dict[tuple, list[int]] = {}
    for j, v in enumerate(onnx_values):
        by_shape.setdefault(_nhwc(v).shape, []).append(j)
    nhwc = [_nhwc(v) for v in onnx_values]
    peak = [float(np.abs(v).max()) if v.size else 0.0 for v in onnx_values]

    matched: dict[int, Location] = {}  # TFLite tensor index -> location
    last = -1  # ONNX index of the previous match: ties (identical tensors) go to the nearest one after it
    for op in info.ops:
        for t in op.outputs:
            if not info.tensors[t].dtype.startswith("float"):
                continue
            value = interp.get_tensor(t)
            best, best_err = None, np.inf
            for j in by_shape.get(value.shape, []):
                err = float(np.abs(value - nhwc[j]).max()) / max(peak[j], 1e-12)
                near_tie = abs(err - best_err) <= 1e-7
                if err < best_err - 1e-7 or (near_tie and best is not None and _closer(j, best, last)):
                    best, best_err = j, min(err, best_err)
            if best is not None and best_err <= MATCH_RTOL:
                matched[t] = locate(onnx_nodes[best])
                last = best
    _fill_unmatched(info, matched)
    return {info.tensors[t].name: loc for t, loc in matched.items()}


def _closer(j: int, current: int, last: int) -> bool:
    """Prefer indices after ``last`` (execution order follows the ONNX order), then the nearest."""
    after_j, after_c = j > last, current > last
    if after_j != after_c:
        return after_j
    return abs(j - last) < abs(current - last)


def _fill_unmatched(info, matched: dict[int, Location]) -> None:
    """Tensors without an ONNX twin take the location of their consumer (else their producer's input)."""
    consumers: dict[int, list] = {}
    for op in info.ops:
        for i in op.inputs:
            consumers.setdefault(i, []).append(op)
    for op in reversed(info.ops):  # downstream first, so chains of unmatched ops resolve in one pass
        for t in op.outputs:
            if t in matched:
                continue
            for c in consumers.get(t, []):
                loc = next((matched[o] for o in c.outputs if o in matched), None)
                if loc is not None:
                    matched[t] = loc
                    break
    for op in info.ops:
        for t in op.outputs:
            if t not in matched:
                loc = next((matched[i] for i in op.inputs if i in matched), None)
                if loc is not None:
                    matched[t] = loc
