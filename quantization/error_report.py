"""``edgenet quant-report``: which layers int8 hurts, by how much, and what to do about it.

The model goes through the same stages as ``edgenet convert`` (ONNX → TF graph → TFLite fp32), then TF's
QuantizationDebugger measures each quantized tensor's own error (:mod:`quantization.debugger`), and every tensor is
named after its EfficientNet layer (:mod:`quantization.layer_names`). Outputs, written atomically into ``--out``:
``layers.csv`` (every tensor, ranked), ``error_by_depth.png`` and ``report.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgenet import __version__
from edgenet.artifacts.tflite_model import TFLiteModel, read_tflite
from edgenet.atomic import publish_dir, staging_dir
from edgenet.loading import LoadedModel
from quantization.debugger import LayerError, layer_errors, write_csv, write_png
from quantization.layer_names import Location, match_tensors

DEBUG_SAMPLES = 32  # images the debugger runs (each runs the float and int8 ops side by side)


@dataclass
class Analysis:
    """Per-layer errors plus what the fixes need: the calibrated model and tensor → layer names."""

    layers: list[LayerError]
    calibrated: bytes = field(repr=False)
    locations: dict[str, Location] = field(repr=False)
    fp32: TFLiteModel = field(repr=False)
    seconds: float = 0.0


def analyse(
    concrete_fn,
    trackable,
    fp32_path: Path,
    onnx_path: Path,
    calibration: np.ndarray,
    debug_samples: int = DEBUG_SAMPLES,
    io_dtype: str = "int8",
    progress: bool = True,
) -> Analysis:
    """Calibrate once, debug every quantized layer on the first ``debug_samples`` calibration images."""
    from quantization.ptq import make_converter

    t0 = time.perf_counter()
    locations = match_tensors(fp32_path, onnx_path, calibration[0])
    converter = make_converter(concrete_fn, trackable, "int8", calibration, io_dtype, progress)
    layers, calibrated = layer_errors(converter, calibration[:debug_samples], locations)
    return Analysis(layers, calibrated, locations, read_tflite(fp32_path), round(time.perf_counter() - t0, 2))


@dataclass
class QuantReport:
    edgenet_version: str
    model: str
    resolution: int
    weights: str
    act: str
    calibration: dict
    debug_samples: int
    layers: list[LayerError]  # ranked, worst first
    accuracy: dict | None = None  # {"fp32": {"top1", "top5", "n"}, "int8": {...}} on --eval-data
    agreement: float | None = None  # int8 vs fp32 top-1 agreement on --eval-data
    drop: float | None = None  # accuracy points lost by int8
    int8_ms: float | None = None  # median latency at 1 thread on this machine
    suggestions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def quant_report(
    loaded: LoadedModel,
    out: Path,
    calib_data: Path | None = None,
    calib_samples: int = 100,
    debug_samples: int = DEBUG_SAMPLES,
    eval_data: Path | None = None,
    top: int = 10,
    latency_budget_ms: float | None = None,
    progress: bool = True,
) -> QuantReport:
    """Build the report for ``loaded`` and publish it into ``out``."""
    from converters.tflite import native_stderr_captured, quiet_tensorflow

    quiet_tensorflow()
    with native_stderr_captured():
        return _report(
            loaded, out, calib_data, calib_samples, debug_samples, eval_data, top, latency_budget_ms, progress
        )


def _report(loaded, out, calib_data, calib_samples, debug_samples, eval_data, top, budget, progress) -> QuantReport:
    from converters.onnx_export import export_onnx
    from converters.tflite import concrete_function, onnx_to_tf
    from edgenet.artifacts.scoring import load_eval_set, runner_for, score
    from quantization import calibration as calib
    from quantization import fixes
    from quantization.ptq import to_tflite

    t_start = time.perf_counter()
    pre = loaded.preprocess
    report = QuantReport(__version__, loaded.name, pre.resolution, loaded.weights, loaded.model.config.act, {}, 0, [])
    with staging_dir(out) as stage, tempfile.TemporaryDirectory(prefix="edgenet-qreport-") as tmp:
        tmp = Path(tmp)
        if calib_data is not None:
            cal = calib.from_folder(calib_data, pre, calib_samples, progress=progress)
        else:
            cal = calib.synthetic(pre, calib_samples)
            report.warnings.append("no --calib-data: ranges and errors measured on generated images")
            print(f"WARNING: {report.warnings[-1]}", file=sys.stderr)
        es = load_eval_set(eval_data, pre, loaded.classes, loaded.num_classes) if eval_data else None
        report.calibration = cal.summary()
        report.debug_samples = min(debug_samples, len(cal.samples))

        _log(progress, f"[1/3] ONNX → TFLite fp32 ({pre.resolution}×{pre.resolution})")
        export_onnx(loaded.model, pre.resolution, tmp / "model.onnx", 17, True)
        fn, trackable = concrete_function(onnx_to_tf(tmp / "model.onnx"))
        fp32 = tmp / "model_fp32.tflite"
        fp32.write_bytes(to_tflite(fn, trackable, "fp32"))

        _log(progress, f"[2/3] quantization debugger on {report.debug_samples} images")
        a = analyse(fn, trackable, fp32, tmp / "model.onnx", cal.samples, debug_samples, "float32", progress)
        report.layers = a.layers
        int8 = fixes.quantize(a.calibrated, "float32")
        report.int8_ms = round(fixes.tflite_latency_ms(int8, pre.resolution), 3)

        if es is not None:
            _log(progress, f"[3/3] accuracy of fp32 and int8 on {es.n} images")
            (tmp / "model_int8.tflite").write_bytes(int8)
            r32, p32 = score(es, runner_for(fp32))
            r8, p8 = score(es, runner_for(tmp / "model_int8.tflite"))
            report.accuracy = {k: {"top1": r.top1, "top5": r.top5, "n": r.n} for k, r in (("fp32", r32), ("int8", r8))}
            report.agreement = float((p32 == p8).mean()) if len(p8) else None
            report.drop = round(100 * (r32.top1 - r8.top1), 2)

        worst = fixes.worst_layers(a.layers, 3)
        report.suggestions.append(
            f"float fallback of the worst layers: edgenet convert (same model options) --int8 --keep-float "
            f"{','.join(worst)} (or --keep-float 3); no longer full-integer"
        )
        report.suggestions.append(
            "16×8: edgenet convert ... --int16-act (int16 activations, int8 weights; no Edge TPU)"
        )
        report.suggestions.append("or let convert choose: --auto-fix --max-drop 1 --eval-data DIR")
        report.suggestions += fixes.recommendations(
            loaded.name, loaded.model.config.act, pre.resolution, loaded.num_classes, report.int8_ms, budget
        )

        write_csv(a.layers, stage / "layers.csv")
        title = f"{loaded.name} @ {pre.resolution}px: int8 error per layer (TF QuantizationDebugger)"
        write_png(a.layers, stage / "error_by_depth.png", title, top=min(top, 8))
        report.files = ["layers.csv", "error_by_depth.png", "report.json"]
        report.seconds = round(time.perf_counter() - t_start, 2)
        (stage / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        publish_dir(stage, Path(out))
    return report
