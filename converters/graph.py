"""Stages 1–2 of conversion: the float graph, built once — PyTorch → ONNX → TF graph → fp32 ``.tflite``, each
checked against the one before.

Every artefact (fp16, dynamic, int8 and its fixes, 16×8, quant-report's debugger) is derived from the
:class:`FloatGraph` this returns, so they all come from the same checked float model, and the expensive steps
(ONNX export, onnx2tf, the float TFLite conversion) run once per conversion; int8 calibration is
:class:`edgenet.quantization.calibration.Calibration`'s, once per sample set.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from edgenet.converters.failures import third_party
from edgenet.converters.onnx_export import OnnxExport, export_onnx
from edgenet.converters.verify import Check, Parity, compare, raise_on_failures, tolerance_check

from edgenet.artifacts.runtime import OnnxRunner, TFLiteRunner, TorchRunner
from edgenet.progress import SILENT, Progress
from edgenet.resources import StageMeter

# ONNX Runtime vs PyTorch: same float32 maths, only op fusion and summation order differ (measured ≤ 2e-6 on B0).
ONNX_ATOL, ONNX_RTOL = 1e-4, 1e-4
# TFLite (XNNPACK) vs ONNX Runtime: NHWC kernels with other accumulation orders, fused activations and a
# polynomial sigmoid; measured ≤ 3e-5 abs on random-weight B0/Lite0 with logits ~1. 1e-3 + 1e-3·max|logit| keeps
# a ~30× margin for trained nets (logits ~20) while still catching any real layout or padding bug (errors ~1).
TFLITE_ATOL, TFLITE_RTOL = 1e-3, 1e-3

FP32_FILE = "model_fp32.tflite"
ONNX_FILE = "model.onnx"


@dataclass
class FloatGraph:
    """The checked float model in every form later stages need, plus the parity inputs and references."""

    name: str
    resolution: int
    workdir: Path
    onnx: OnnxExport
    fp32: bytes = field(repr=False)
    concrete_fn: object = field(repr=False)
    trackable: object = field(repr=False)
    parity_x: np.ndarray = field(repr=False)
    onnx_out: np.ndarray = field(repr=False)  # ONNX Runtime's logits on parity_x: the fp32 model's reference
    fp32_out: np.ndarray = field(repr=False)  # TFLite fp32's logits: every quantized model's reference
    onnx_parity: Parity
    fp32_parity: Parity
    checks: list[Check]
    tf_seconds: float  # onnx2tf + fp32 serialization
    strict: bool  # onnx2tf needed its strict mode
    threads: int | None = None
    input_range: tuple[float, float] | None = None  # a raw-pixel input: its quantization range, fixed

    @property
    def onnx_path(self) -> Path:
        return self.workdir / ONNX_FILE

    @property
    def fp32_path(self) -> Path:
        return self.workdir / FP32_FILE

    def release_tf_graph(self) -> None:
        """Drop the TF graph (only the fp16/dynamic kinds are built from it) and Keras' global state."""
        self.concrete_fn = self.trackable = None
        try:
            import tf_keras

            tf_keras.backend.clear_session()
        except ImportError:  # pragma: no cover - onnx2tf needs tf_keras
            pass
        from edgenet.resources import release_memory

        release_memory()

    def onnx_summary(self) -> dict:
        """report.json's ``onnx`` entry."""
        return {**asdict(self.onnx), "parity": asdict(self.onnx_parity)}


def export_float(
    model,
    name: str,
    resolution: int,
    workdir: Path,
    parity_x: np.ndarray,
    opset: int = 17,
    simplify: bool = True,
    threads: int | None = None,
    progress: Progress = SILENT,
    input_range: tuple[float, float] | None = None,
    meter: StageMeter | None = None,
) -> FloatGraph:
    """ONNX (checked against PyTorch), then the TF graph and fp32 TFLite (checked against ONNX Runtime).

    ``input_range``: the exact range the quantized models' input must cover (raw pixels: (0, 255)); ``meter``
    times the two steps as report.json's ``onnx`` and ``float graph`` stages.

    Raises :class:`~edgenet.errors.VerificationError` naming the worst failed check.
    """
    workdir, meter = Path(workdir), meter or StageMeter()
    progress.step(f"[1/3] exporting ONNX (opset {opset}, {resolution}×{resolution})")
    tool = "torch.onnx + onnxslim" if simplify else "torch.onnx"
    with meter.stage("onnx"):
        with third_party("ONNX export", tool, name):
            exp = export_onnx(model, resolution, workdir / ONNX_FILE, opset, simplify)
        torch_out = TorchRunner(model)(parity_x)
        onnx_out = OnnxRunner(workdir / ONNX_FILE, threads)(parity_x)
    onnx_parity = compare("torch", torch_out, onnx_out)
    checks = [tolerance_check("onnx_vs_torch", onnx_parity, torch_out, ONNX_ATOL, ONNX_RTOL)]
    raise_on_failures("ONNX export", checks)

    progress.step("[2/3] ONNX → TensorFlow graph (onnx2tf, NHWC)")
    with meter.stage("float graph"):
        fn, trackable, fp32, fp32_out, check, tf_seconds, strict = _float_tflite(
            workdir, name, parity_x, onnx_out, threads
        )
    checks.append(check)
    raise_on_failures("TFLite conversion", checks)
    return FloatGraph(
        name, resolution, workdir, exp, fp32, fn, trackable, parity_x, onnx_out, fp32_out, onnx_parity,
        compare("onnx", onnx_out, fp32_out), checks, round(tf_seconds, 3), strict, threads, input_range,
    )  # fmt: skip


def _float_tflite(workdir: Path, name: str, parity_x: np.ndarray, onnx_out: np.ndarray, threads: int | None):
    """onnx2tf (its fast mode first; strict only if that model fails the check), the fp32 ``.tflite`` and its
    check against ONNX Runtime."""
    from edgenet.converters.tflite import concrete_function, convert_float, onnx_to_tf

    for strict in (False, True):  # the fast mode first; strict only if its model fails the check
        t0 = time.perf_counter()
        tf_model = onnx_to_tf(workdir / ONNX_FILE, name, strict=strict)
        with third_party("ONNX → TensorFlow", "tf.function", name):
            fn, trackable = concrete_function(tf_model)
        with third_party("TFLite fp32", "TFLiteConverter", name):
            fp32 = convert_float(fn, trackable, "fp32")
        tf_seconds = time.perf_counter() - t0
        (workdir / FP32_FILE).write_bytes(fp32)
        fp32_out = TFLiteRunner(workdir / FP32_FILE, threads)(parity_x)
        fp32_parity = compare("onnx", onnx_out, fp32_out)
        check = tolerance_check("tflite_fp32_vs_onnx", fp32_parity, onnx_out, TFLITE_ATOL, TFLITE_RTOL)
        if check.passed:
            break
    return fn, trackable, fp32, fp32_out, check, tf_seconds, strict
