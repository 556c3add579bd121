"""``edgenet quant-report`` on the conversion stages: the same float graph, calibration and quantizer as
``edgenet convert``, then TF's QuantizationDebugger per layer (:mod:`quantization.debugger`) and the report
(:mod:`quantization.error_report`), published atomically into ``out``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from converters.graph import export_float
from edgenet import __version__
from edgenet.atomic import publish_dir, staging_dir
from edgenet.loading import LoadedModel
from edgenet.progress import SILENT, Progress
from quantization.error_report import DEBUG_SAMPLES, QuantReport, suggestions, write_files


def quant_report(
    loaded: LoadedModel,
    out: Path,
    calib_data: Path | None = None,
    calib_samples: int = 100,
    debug_samples: int = DEBUG_SAMPLES,
    eval_data: Path | None = None,
    top: int = 10,
    latency_budget_ms: float | None = None,
    quantizer: str = "tflite",
    opset: int = 17,
    progress: Progress = SILENT,
    calibration: str = "minmax",
) -> QuantReport:
    """Rank the layers int8 hurts for ``loaded``, measure fp32 vs int8 on ``eval_data``, publish into ``out``."""
    from edgenet.quiet import native_stderr_captured, quiet_tensorflow

    quiet_tensorflow()
    with native_stderr_captured():
        return _report(
            loaded, Path(out), calib_data, calib_samples, debug_samples, eval_data, top, latency_budget_ms,
            quantizer, opset, progress, calibration,
        )  # fmt: skip


def _report(
    loaded, out, calib_data, calib_samples, debug_samples, eval_data, top, budget, quantizer, opset, progress, method
):
    from device_bench.latency import tflite_p50_ms
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import load_eval_set, metrics, score
    from quantization.calibration import calibration_set
    from quantization.calibration_methods import parse_method
    from quantization.debugger import analyse
    from quantization.quantizers import get_quantizer

    t_start = time.perf_counter()
    q = get_quantizer(quantizer)
    pre = loaded.preprocess
    report = QuantReport(__version__, loaded.name, pre.resolution, loaded.weights, loaded.model.config.act, {}, 0, [])
    report.quantizer = q.name
    with staging_dir(out) as stage, tempfile.TemporaryDirectory(prefix="edgenet-qreport-") as tmp:
        tmp = Path(tmp)
        cal, warning = calibration_set(calib_data, pre, calib_samples, progress)
        if warning:
            report.warnings.append("no --calib-data: ranges and errors measured on generated images")
            progress.warn(report.warnings[-1])
        es = load_eval_set(eval_data, pre, loaded.classes, loaded.num_classes) if eval_data else None
        m, param = parse_method(method)
        report.calibration = {**cal.summary(), **m.spec(param)}
        report.debug_samples = min(debug_samples, len(cal.samples))

        graph = export_float(loaded.model, loaded.name, pre.resolution, tmp, cal.samples[:8], opset, progress=progress)
        progress.step(f"quantization debugger on {report.debug_samples} images")
        calibrated = graph.calibrated(q, cal.samples, progress, method)
        a = analyse(q, graph.fp32_path, graph.onnx_path, calibrated, cal.samples, debug_samples)
        report.layers = a.layers
        int8 = q.int8(calibrated, "float32", ())
        report.int8_ms = round(tflite_p50_ms(int8), 3)

        if es is not None:
            progress.step(f"accuracy of fp32 and int8 on {es.n} images")
            (tmp / "model_int8.tflite").write_bytes(int8)
            r32, p32 = score(es, runner_for(graph.fp32_path))
            r8, p8 = score(es, runner_for(tmp / "model_int8.tflite"))
            report.accuracy = {"fp32": metrics(r32), "int8": metrics(r8)}
            report.agreement = float((p32 == p8).mean()) if len(p8) else None
            report.drop = round(100 * (r32.top1 - r8.top1), 2)

        report.suggestions = suggestions(report, loaded.num_classes, budget)
        report.seconds = round(time.perf_counter() - t_start, 2)
        write_files(report, a, stage, top)
        publish_dir(stage, out)
    return report
