"""ONNX Runtime Mobile's ``.ort`` format: what ONNX Runtime's mobile and web packages load (they read no ``.onnx``).

Both kinds come from the ONNX models this conversion already checked, through onnxruntime's own converter
(``onnxruntime.tools.convert_onnx_models_to_ort``, graph optimizations applied once and fixed in the file, so a
phone does no rewriting at load): ``ort_fp32`` from the float ONNX, ``ort_int8`` from the Q/DQ int8 ONNX that ONNX
Runtime's static quantizer makes (:func:`edgenet.converters.tensorrt.qdq_onnx`, reused when ``onnx_int8_qdq`` was built
in the same run), converted for ARM as phones are (Q/DQ pairs fused into int8 kernels). Both are verified here on ONNX
Runtime against the float ONNX, and ``edgenet bench`` times them through the ``ort`` runtime.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

from edgenet.converters.kind import BuildContext, Kind, register
from edgenet.converters.tensorrt import QDQ_FILE, qdq_onnx


def ort_bytes(onnx_bytes: bytes, target_platform: str | None = None) -> bytes:
    """The ``.ort`` bytes of an ONNX model (fixed optimizations; ``target_platform="arm"`` fuses Q/DQ as phones run
    it). The converter prints its progress; that is swallowed, its errors are not."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    # "Created config in …" for each model, from loggers the tool sets to DEBUG itself
    chatter = [
        logging.getLogger(n) for n in list(logging.Logger.manager.loggerDict) if n.startswith("ort_format_model")
    ]
    levels = [log.level for log in chatter]
    for log in chatter:
        log.setLevel(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="edgenet-ort-") as tmp:
            src, out = Path(tmp) / "model.onnx", Path(tmp) / "out"
            src.write_bytes(onnx_bytes)
            with contextlib.redirect_stdout(io.StringIO()):
                convert_onnx_models_to_ort(
                    src, output_dir=out, optimization_styles=[OptimizationStyle.Fixed], target_platform=target_platform
                )
            return (out / "model.ort").read_bytes()
    finally:
        for log, level in zip(chatter, levels):
            log.setLevel(level)


def _fp32(ctx: BuildContext) -> bytes:
    return ort_bytes(ctx.graph.onnx_path.read_bytes())


def _int8(ctx: BuildContext) -> bytes:
    qdq = ctx.graph.workdir / QDQ_FILE
    return ort_bytes(qdq.read_bytes() if qdq.is_file() else qdq_onnx(ctx.graph.onnx_path, ctx.samples), "arm")


# ONNX Runtime on both sides, the same optimizations: only what fixing them in the file changes (ONNX_ATOL's margin)
register(
    Kind(
        "ort_fp32", "model_fp32.ort", "ONNX Runtime Mobile float32 (.ort)", _fp32,
        reference="onnx", runtime="ort", tolerance=(1e-4, 1e-4),
    )
)  # fmt: skip
register(
    Kind(
        "ort_int8", "model_int8.ort", "ONNX Runtime Mobile int8 (.ort from the Q/DQ ONNX, ARM kernels)", _int8,
        calibrated=True, reference="onnx", runtime="ort",
    )
)  # fmt: skip
