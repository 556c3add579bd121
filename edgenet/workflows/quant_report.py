"""``edgenet quant-report`` on the conversion stages: the same float graph, calibration and quantizer as
``edgenet convert``, then TF's QuantizationDebugger per layer (:mod:`edgenet.quantization.debugger`) and the report
(:mod:`edgenet.quantization.error_report`), published atomically into ``out``."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from edgenet import __version__
from edgenet.atomic import publish_dir, staging_dir
from edgenet.converters.graph import export_float
from edgenet.loading import LoadedModel
from edgenet.progress import SILENT, Progress
from edgenet.quantization.error_report import DEBUG_SAMPLES, QuantReport, suggestions, write_files


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
    rounding_trials: bool = True,
    adaround_iterations: int = 500,
) -> QuantReport:
    """Rank the layers int8 hurts for ``loaded``, measure fp32 vs int8 on ``eval_data``, publish into ``out``.

    Every ``--calibration`` method is tried on the same calibration, then (``rounding_trials``) the weights rounded
    before export, cheapest first: bias correction, AdaRound with it (minutes on a 224-px model)."""
    from edgenet.quiet import native_stderr_captured, quiet_tensorflow
    from edgenet.validate import quant_report_options

    quant_report_options(calib_samples, debug_samples, top, latency_budget_ms)
    quiet_tensorflow()
    with native_stderr_captured():
        return _report(
            loaded, Path(out), calib_data, calib_samples, debug_samples, eval_data, top, latency_budget_ms,
            quantizer, opset, progress, calibration, rounding_trials, adaround_iterations,
        )  # fmt: skip


def _report(
    loaded, out, calib_data, calib_samples, debug_samples, eval_data, top, budget, quantizer, opset, progress, method,
    rounding_trials=True, adaround_iterations=500,
):  # fmt: skip
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import load_eval_set, metrics, score
    from edgenet.device_bench.latency import tflite_p50_ms
    from edgenet.quantization.calibration import Calibration, calibration_set
    from edgenet.quantization.calibration_methods import METHODS, parse_method
    from edgenet.quantization.debugger import analyse
    from edgenet.quantization.pair_errors import method_advice, method_trials
    from edgenet.quantization.quantizers import get_quantizer

    t_start = time.perf_counter()
    q = get_quantizer(quantizer)
    pre = loaded.preprocess
    report = QuantReport(__version__, loaded.name, pre.resolution, loaded.weights, loaded.model.config.act, {}, 0, [])
    report.quantizer = q.name
    with staging_dir(out) as stage, tempfile.TemporaryDirectory(prefix="edgenet-qreport-") as tmp:
        tmp = Path(tmp)
        cal, warning = calibration_set(calib_data, pre, calib_samples, progress)
        if warning:
            synthetic = "no --calib-data: ranges and errors measured on generated images"
            report.warnings.append(warning if calib_data else synthetic)
            progress.warn(report.warnings[-1])
        es = load_eval_set(eval_data, pre, loaded.classes, loaded.num_classes) if eval_data else None
        m, param = parse_method(method)
        report.calibration = {**cal.summary(), **m.spec(param)}
        report.debug_samples = min(debug_samples, len(cal.samples))

        graph = export_float(loaded.model, loaded.name, pre.resolution, tmp, cal.samples[:8], opset, progress=progress)
        progress.step(f"quantization debugger on {report.debug_samples} images")
        calibration = Calibration(graph.fp32, cal.samples, graph.input_range)
        calibrated = calibration.model(q, method, progress)
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

        progress.step("int8 with each --calibration method on the same calibration")
        score = (lambda path: _top1(es, path)) if es is not None else None
        trials = method_trials(q, graph.fp32, cal.samples, list(METHODS), score, calibration.model(q))
        if rounding_trials:
            trials += _rounding_trials(loaded, graph, cal.samples, q, method, score, tmp, progress, adaround_iterations)
        report.methods = [asdict(t) for t in trials]
        report.suggestions = suggestions(report, loaded.num_classes, budget)
        report.suggestions[1:1] = method_advice(trials, q.name)
        report.seconds = round(time.perf_counter() - t_start, 2)
        write_files(report, a, stage, top)
        publish_dir(stage, out)
    return report


def _rounding_trials(loaded, graph, samples, q, method, score, tmp: Path, progress, iterations: int = 500) -> list:
    """Each of :data:`ROUNDING_FIXES` (cheapest first) as an int8 model of its own float graph, measured like the
    calibration methods: against the float logits on the calibration images, and on --eval-data."""
    from edgenet.artifacts.runtime import TFLiteRunner
    from edgenet.converters.rounded import rounded_int8
    from edgenet.quantization.pair_errors import trial
    from edgenet.quantization.recipe import ROUNDING_FIXES, rounding_name

    ref = TFLiteRunner(graph.fp32_path)(samples)
    trials = []
    for rounding, bc in ROUNDING_FIXES:
        name = f"rounding:{rounding_name(rounding, bc)}"
        progress.step(f"int8 with the weights rounded first: {name}")
        r = rounded_int8(
            loaded.model, loaded.name, loaded.preprocess.resolution, samples, graph.parity_x, q, method, "float32",
            rounding, bc, iterations, graph.input_range, progress=progress,
        )  # fmt: skip
        path = tmp / f"{name.replace(':', '_').replace('+', '_')}.tflite"
        path.write_bytes(r.data)
        trials.append(trial(name, ref, path, samples, score))
    return trials


_QUANTIZED = ("int8", "uint8", "int16")
_LAYERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")  # quantization keeps each of these one op


def _refuse_non_twins(info8, info32) -> None:
    """The pair must be one network, quantized and not: else per-layer errors compare unrelated tensors and the
    advice (keep-float layers) is invented — a 4-class int8 against a 1000-class float model ran to the end."""
    from edgenet.errors import EdgenetError

    acts8 = [info8.tensors[i].dtype for op in info8.ops for i in op.outputs]
    if not any(d in _QUANTIZED for d in acts8):
        raise EdgenetError(
            f"--model-file {info8.path}: its layers compute in float (not an int8 model); pass the int8 .tflite "
            "(model_int8.tflite) with --model-file and its float twin with --float"
        )
    acts32 = [info32.tensors[i].dtype for op in info32.ops for i in op.outputs]
    if info32.input_details[0].dtype != "float32" or any(d in _QUANTIZED for d in acts32):
        raise EdgenetError(f"--float {info32.path}: not a float model; pass the fp32 .tflite (model_fp32.tflite)")
    i8, i32 = info8.input_details[0], info32.input_details[0]
    o8, o32 = info8.output_details[0].shape[-1:], info32.output_details[0].shape[-1:]
    layers8, layers32 = (sum(m.op_counts.get(k, 0) for k in _LAYERS) for m in (info8, info32))
    if list(i8.shape) != list(i32.shape) or list(o8) != list(o32) or layers8 != layers32:
        raise EdgenetError(
            f"--float {info32.path}: not the float twin of {info8.path.name} (input {list(i32.shape)} vs "
            f"{list(i8.shape)}, classes {list(o32)} vs {list(o8)}, conv/dense layers {layers32} vs {layers8}); pass "
            "the fp32 model the int8 one was converted from"
        )


def _top1(es, path: Path) -> tuple[float, int]:
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import score

    result, _ = score(es, runner_for(path))
    return result.top1, result.n


def quant_report_pair(
    int8_path: Path,
    out: Path,
    fp32_path: Path | None = None,
    calib_data: Path | None = None,
    calib_samples: int = 100,
    debug_samples: int = DEBUG_SAMPLES,
    eval_data: Path | None = None,
    top: int = 10,
    quantizer: str = "tflite",
    progress: Progress = SILENT,
) -> QuantReport:
    """``quant-report --model-file``: an existing int8 ``.tflite`` against its float twin (``model_fp32.tflite``
    beside it unless ``fp32_path``), with the preprocessing and class names of the report.json beside them."""
    from edgenet.quiet import native_stderr_captured, quiet_tensorflow
    from edgenet.validate import quant_report_options

    quant_report_options(calib_samples, debug_samples, top)
    quiet_tensorflow()
    with native_stderr_captured():
        return _pair(
            Path(int8_path), Path(out), fp32_path, calib_data, calib_samples, debug_samples, eval_data, top,
            quantizer, progress,
        )  # fmt: skip


def _pair(int8_path, out, fp32_path, calib_data, calib_samples, debug_samples, eval_data, top, quantizer, progress):
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import artifact_preprocess, load_eval_set, metrics, score
    from edgenet.artifacts.sidecar import read_report
    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.atomic import refuse_input_as_output
    from edgenet.device_bench.latency import tflite_p50_ms
    from edgenet.errors import EdgenetError
    from edgenet.quantization.calibration import calibration_set
    from edgenet.quantization.calibration_methods import METHODS
    from edgenet.quantization.debugger import Analysis
    from edgenet.quantization.layer_names import match_tensors
    from edgenet.quantization.pair_errors import method_advice, method_trials, pair_errors
    from edgenet.quantization.quantizers import get_quantizer

    t_start = time.perf_counter()
    fp32_path = Path(fp32_path) if fp32_path else int8_path.with_name("model_fp32.tflite")
    for p, flag in ((int8_path, "--model-file"), (fp32_path, "--float")):
        if not p.is_file():
            raise EdgenetError(f"{p}: not found; pass the float model with --float" if flag == "--float" else
                               f"{p}: not found; pass an int8 .tflite with --model-file")  # fmt: skip
    refuse_input_as_output(out, "--out", {"--model-file": int8_path, "--float": fp32_path})
    for p in (int8_path, fp32_path):
        if p.resolve().is_relative_to(out.resolve()):
            raise EdgenetError(f"--out {out} holds {p}: the report replaces that folder; choose another --out")
    info8, info32 = read_tflite(int8_path), read_tflite(fp32_path)  # one-line errors for truncated files
    _refuse_non_twins(info8, info32)
    q = get_quantizer(quantizer)
    pre, classes = artifact_preprocess(fp32_path)
    side = read_report(fp32_path.parent / "report.json") if (fp32_path.parent / "report.json").is_file() else {}
    num_classes = int(info32.output_details[0].shape[-1])
    report = QuantReport(
        __version__, side.get("model", fp32_path.stem), pre.resolution, side.get("weights", "file"), "?", {}, 0, []
    )
    report.quantizer, report.errors = q.name, "accumulated"
    report.files_analysed = {"float": str(fp32_path), "int8": str(int8_path)}
    with staging_dir(out) as stage:
        cal, warning = calibration_set(calib_data, pre, calib_samples, progress)
        if warning:
            report.warnings.append(warning if calib_data else "no --calib-data: errors measured on generated images")
            progress.warn(report.warnings[-1])
        es = load_eval_set(eval_data, pre, classes, num_classes) if eval_data else None
        report.calibration = cal.summary()
        report.debug_samples = min(debug_samples, len(cal.samples))
        onnx = fp32_path.with_name("model.onnx")
        locations = match_tensors(fp32_path, onnx, cal.samples[0]) if onnx.is_file() else {}
        progress.step(f"float vs int8, every tensor, on {report.debug_samples} images")
        report.layers = pair_errors(fp32_path, int8_path, cal.samples[:debug_samples], locations, progress)
        report.int8_ms = round(tflite_p50_ms(int8_path), 3)
        if es is not None:
            progress.step(f"accuracy of float and int8 on {es.n} images")
            r32, p32 = score(es, runner_for(fp32_path))
            r8, p8 = score(es, runner_for(int8_path))
            report.accuracy = {"fp32": metrics(r32), "int8": metrics(r8)}
            report.agreement = float((p32 == p8).mean()) if len(p8) else None
            report.drop = round(100 * (r32.top1 - r8.top1), 2)
        progress.step("int8 with each --calibration method, from the float model")
        score_fn = (lambda path: _top1(es, path)) if es is not None else None
        trials = method_trials(q, fp32_path.read_bytes(), cal.samples, list(METHODS), score_fn, progress=progress)
        report.methods = [asdict(t) for t in trials]
        report.suggestions = [
            *method_advice(trials, q.name),
            "float fallback of the worst layers needs the checkpoint: edgenet convert --checkpoint CKPT --int8 "
            f"--keep-float {','.join(e.layer for e in report.layers[:3])}",
            "16×8: edgenet convert ... --int16-act (int16 activations, int8 weights; no Edge TPU)",
        ]
        report.seconds = round(time.perf_counter() - t_start, 2)
        write_files(report, Analysis(report.layers, locations, info32), stage, top)
        publish_dir(stage, out)
    return report
