"""Stage 1: PyTorch → ONNX (static 1×3×S×S, opset ≥ 17), checked by ``onnx.checker``, optionally slimmed."""

from __future__ import annotations

import io
import time
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import torch

INPUT_NAME, OUTPUT_NAME = "input", "logits"


@dataclass(frozen=True)
class OnnxExport:
    file: str
    bytes: int
    opset: int
    simplified: bool
    nodes: int
    seconds: float


def export_onnx(
    model: torch.nn.Module, resolution: int, path: str | Path, opset: int = 17, simplify: bool = True
) -> OnnxExport:
    """Export with TorchScript tracing (stable for static shapes and needs no onnxscript), then check/slim.

    Static shapes on purpose: TFLite and the Edge TPU want them, and they let every Pad/Reshape fold to a constant.
    """
    import onnx

    from edgenet.validate import integer, max_opset

    integer(opset, "--opset", 17, max_opset())
    t0 = time.perf_counter()
    path = Path(path)
    x = torch.randn(1, model.config.in_channels, resolution, resolution)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (x,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamo=False,
            do_constant_folding=True,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    if simplify:
        import onnxslim

        with redirect_stdout(io.StringIO()):
            proto = onnxslim.slim(proto)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(path))
    return OnnxExport(
        file=path.name,
        bytes=path.stat().st_size,
        opset=opset,
        simplified=simplify,
        nodes=len(proto.graph.node),
        seconds=round(time.perf_counter() - t0, 3),
    )
