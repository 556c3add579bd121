"""``edgenet convert``: PyTorch → ONNX → TFLite (fp32 / fp16 / dynamic / int8), each stage verified.

Everything is built in a staging folder beside ``--out`` and moved into place only when every stage and check
has passed, so a failed run leaves no partial files and an earlier good output untouched.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from converters.failures import third_party
from converters.verify import Check, Parity, compare, raise_on_failures, tolerance_check
from edgenet import __version__
from edgenet.artifacts.runtime import OnnxRunner, TFLiteRunner, TorchRunner
from edgenet.artifacts.tflite_model import read_tflite
from edgenet.atomic import publish_dir, staging_dir
from edgenet.errors import EdgenetError
from edgenet.loading import LoadedModel

ARTIFACT_FILES = {
    "fp32": "model_fp32.tflite",
    "fp16": "model_fp16.tflite",
    "dynamic": "model_dynamic.tflite",
    "int8": "model_int8.tflite",
    "int16": "model_int16x8.tflite",
}
OWNED_FILES = {
    "model.onnx",
    "labels.txt",
    "report.json",
    "model_int8_edgetpu.tflite",
    "model_int8_edgetpu.log",
    *ARTIFACT_FILES.values(),
}

# ONNX Runtime vs PyTorch: same float32 maths, only op fusion and summation order differ (measured ≤ 2e-6 on B0).
ONNX_ATOL, ONNX_RTOL = 1e-4, 1e-4
# TFLite (XNNPACK) vs ONNX Runtime: NHWC kernels with other accumulation orders, fused activations and a
# polynomial sigmoid; measured ≤ 3e-5 abs on random-weight B0/Lite0 with logits ~1. 1e-3 + 1e-3·max|logit| keeps
# a ~30× margin for trained nets (logits ~20) while still catching any real layout or padding bug (errors ~1).
TFLITE_ATOL, TFLITE_RTOL = 1e-3, 1e-3


@dataclass
class ConvertOptions:
    out: Path
    fp16: bool = False
    dynamic: bool = False
    int8: bool = False
    int16: bool = False
    int8_io: str = "int8"
    calib_data: Path | None = None
    calib_samples: int = 100
    parity_samples: int = 8
    min_agreement: float | None = None
    simplify: bool = True
    opset: int = 17
    edgetpu: bool = False
    progress: bool = True
    verbose: bool = False  # print third-party tracebacks (they always go to a log file)
    threads: int | None = None
    # int8 fidelity (issue 6: edgenet.artifacts.scoring, quantization.fixes)
    eval_data: Path | None = None
    keep_float: str | None = None  # "N" (the N worst layers) or "layer,layer"
    auto_fix: bool = False
    max_drop: float = 1.0  # accuracy points, for auto_fix
    latency_budget_ms: float | None = None


@dataclass
class Artifact:
    name: str
    file: str
    bytes: int
    input_dtype: str
    output_dtype: str
    ops: dict[str, int]
    transpose_ops: int
    seconds: float
    parity: Parity | None = None
    full_integer: bool | None = None


@dataclass
class ConvertReport:
    edgenet_version: str
    model: str
    resolution: int
    num_classes: int
    weights: str
    preprocess: dict
    classes: list[str] | None
    calibration: dict | None
    onnx: dict
    artifacts: list[Artifact] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    edgetpu: dict | None = None
    accuracy: dict | None = None  # {"torch": {"top1", "top5", "n"}, "onnx": ..., "fp32": ..., "int8": ...}
    agreement: dict | None = None  # {"onnx": top-1 agreement with torch, "fp32": ..., "int8": ...}
    int8_fix: dict | None = None  # what --keep-float / --auto-fix did (quantization.fixes.Int8Fix)
    total_seconds: float = 0.0
    out: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _log(opts: ConvertOptions, msg: str) -> None:
    if opts.progress:
        print(msg, file=sys.stderr, flush=True)


def _full_integer(info) -> bool:
    """True when no op computes in float (Edge TPU / microcontroller requirement)."""
    float_ops = [o for o in info.ops if any(info.tensors[i].dtype.startswith("float") for i in o.outputs)]
    return not float_ops and "DEQUANTIZE" not in info.op_counts


def convert(loaded: LoadedModel, opts: ConvertOptions) -> ConvertReport:
    """Run every stage for ``loaded`` and publish the artefacts into ``opts.out``."""
    from converters.tflite import native_stderr_captured, quiet_tensorflow

    quiet_tensorflow()
    with native_stderr_captured():
        return _convert(loaded, opts)


def _convert(loaded: LoadedModel, opts: ConvertOptions) -> ConvertReport:
    from converters.onnx_export import export_onnx
    from converters.tflite import concrete_function, onnx_to_tf
    from quantization import calibration as calib
    from quantization.ptq import to_tflite

    t_start = time.perf_counter()
    pre = loaded.preprocess
    res = pre.resolution
    if res < 32:
        raise EdgenetError(f"resolution {res}: EfficientNet downsamples 32×; use --img-size 32 or more")
    if opts.edgetpu:
        opts.int8 = True
        if opts.int8_io == "float32":
            raise EdgenetError("--edgetpu needs integer model I/O; use --int8-io uint8 or int8")
    if opts.int8_io not in ("int8", "uint8", "float32"):
        raise EdgenetError(f"--int8-io {opts.int8_io}: choose int8, uint8 or float32")
    if opts.keep_float or opts.auto_fix:
        from quantization.fixes import check_fix_options

        check_fix_options(opts, loaded.model)
    report = ConvertReport(
        edgenet_version=__version__,
        model=loaded.name,
        resolution=res,
        num_classes=loaded.num_classes,
        weights=loaded.weights,
        preprocess=pre.to_dict(),
        classes=loaded.classes,
        calibration=None,
        onnx={},
        out=str(opts.out),
    )
    with staging_dir(opts.out) as stage:  # fails early if --out is not writable
        # Calibration / parity inputs: read first, so a bad --calib-data fails before minutes of conversion.
        needs_calib = opts.int8 or opts.int16
        if opts.calib_data is not None:
            n = opts.calib_samples if needs_calib else opts.parity_samples
            cal = calib.from_folder(opts.calib_data, pre, n, progress=opts.progress)
        else:
            cal = calib.synthetic(pre, opts.calib_samples if needs_calib else opts.parity_samples)
            if needs_calib:
                msg = (
                    "no --calib-data: int8 ranges are calibrated on generated images; int8 accuracy needs "
                    "representative data (pass a folder of your images)"
                )
                report.warnings.append(msg)
                print(f"WARNING: {msg}", file=sys.stderr)
        if needs_calib:
            report.calibration = cal.summary()
        parity_x = cal.samples[: opts.parity_samples]
        if loaded.weights == "random":
            msg = "no weights given: converting the randomly initialised network (pass --checkpoint or --weights)"
            report.warnings.append(msg)
            print(f"WARNING: {msg}", file=sys.stderr)
        scorer = None
        if opts.eval_data is not None:  # read before converting: class folders the model lacks fail now, named
            from edgenet.artifacts.scoring import Scorer, load_eval_set

            es = load_eval_set(opts.eval_data, pre, loaded.classes, loaded.num_classes)
            scorer = Scorer(es, loaded.model, opts.threads)

        # 1. ONNX
        _log(opts, f"[1/3] exporting ONNX (opset {opts.opset}, {res}×{res})")
        tool = "torch.onnx + onnxslim" if opts.simplify else "torch.onnx"
        with third_party("ONNX export", tool, loaded.name, opts.verbose):
            exp = export_onnx(loaded.model, res, stage / "model.onnx", opts.opset, opts.simplify)
        torch_out = TorchRunner(loaded.model)(parity_x)
        onnx_out = OnnxRunner(stage / "model.onnx", opts.threads)(parity_x)
        onnx_parity = compare("torch", torch_out, onnx_out)
        report.onnx = {**asdict(exp), "parity": asdict(onnx_parity)}
        report.checks.append(tolerance_check("onnx_vs_torch", onnx_parity, torch_out, ONNX_ATOL, ONNX_RTOL))
        raise_on_failures("ONNX export", report.checks)

        # 2. TF graph, then each TFLite artefact
        _log(opts, "[2/3] ONNX → TensorFlow graph (onnx2tf, NHWC)")
        t0 = time.perf_counter()
        tf_model = onnx_to_tf(stage / "model.onnx", loaded.name, opts.verbose)
        with third_party("ONNX → TensorFlow", "tf.function", loaded.name, opts.verbose):
            fn, trackable = concrete_function(tf_model)
        graph_seconds = time.perf_counter() - t0

        kinds = ["fp32"] + [k for k in ("fp16", "dynamic", "int8", "int16") if getattr(opts, k)]
        fp32_out = None
        fixed = None
        for i, kind in enumerate(kinds):
            if any(a.name == kind for a in report.artifacts):  # the 16×8 model --auto-fix already chose
                continue
            _log(opts, f"[3/3] TFLite {kind} ({i + 1}/{len(kinds)})")
            t0 = time.perf_counter()
            if kind == "int8" and (opts.keep_float or opts.auto_fix):
                from quantization.fixes import int8_for_convert

                fixed = int8_for_convert(fn, trackable, cal, stage, loaded, opts, scorer)
                data, kind = fixed.data, fixed.kind
                report.int8_fix = fixed.summary()
            else:
                with third_party(f"TFLite {kind}", "TFLiteConverter", loaded.name, opts.verbose):
                    data = to_tflite(fn, trackable, kind, cal.samples, opts.int8_io, opts.progress)
            path = stage / ARTIFACT_FILES[kind]
            path.write_bytes(data)
            seconds = time.perf_counter() - t0 + (graph_seconds if kind == "fp32" else 0.0)
            info = read_tflite(path)
            out = TFLiteRunner(path, opts.threads)(parity_x)
            if kind == "fp32":
                fp32_out = out
                if float(abs(out).max()) < 1e-6:
                    report.warnings.append(
                        "logits are ~0 on every input (an untrained network): top-1 agreement is not meaningful; "
                        "convert trained weights to measure int8 fidelity"
                    )
                parity = compare("onnx", onnx_out, out)
                report.checks.append(tolerance_check("tflite_fp32_vs_onnx", parity, onnx_out, TFLITE_ATOL, TFLITE_RTOL))
            else:
                parity = compare("fp32", fp32_out, out)
                if opts.min_agreement is not None:
                    report.checks.append(
                        Check(
                            f"{kind}_top1_agreement",
                            f">= {opts.min_agreement}",
                            parity.top1_agreement,
                            parity.top1_agreement >= opts.min_agreement,
                        )
                    )
            transposes = info.op_counts.get("TRANSPOSE", 0)
            if transposes:
                report.warnings.append(f"{kind}: {transposes} TRANSPOSE op(s) left by conversion")
            report.artifacts.append(
                Artifact(
                    name=kind,
                    file=path.name,
                    bytes=path.stat().st_size,
                    input_dtype=info.input_details[0].dtype,
                    output_dtype=info.output_details[0].dtype,
                    ops=info.op_counts,
                    transpose_ops=transposes,
                    seconds=round(seconds, 3),
                    parity=parity,
                    full_integer=_full_integer(info) if kind == "int8" else None,
                )
            )
            if fixed is not None and kind == fixed.kind and fixed.warning():
                report.warnings.append(fixed.warning())
            elif kind == "int8" and not report.artifacts[-1].full_integer:
                report.checks.append(Check("int8_full_integer", "True", 0.0, False))
        raise_on_failures("TFLite conversion", report.checks)

        if opts.edgetpu:
            report.edgetpu = _edgetpu(stage / ARTIFACT_FILES["int8"], stage, opts)
        if scorer is not None:
            _log(opts, f"accuracy of every artefact on {scorer.es.n} images of {opts.eval_data}")
            files = {"onnx": stage / "model.onnx", **{a.name: stage / a.file for a in report.artifacts}}
            report.accuracy, report.agreement = scorer.table(files)
        if loaded.classes:
            (stage / "labels.txt").write_text("\n".join(loaded.classes) + "\n", encoding="utf-8")
        report.total_seconds = round(time.perf_counter() - t_start, 3)
        (stage / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        # one swap: the whole new set, the user's own files carried over, an earlier run's artefacts that this run
        # did not rebuild (OWNED_FILES) dropped
        publish_dir(stage, opts.out, owned=OWNED_FILES)
    return report


def _edgetpu(int8_path: Path, stage: Path, opts: ConvertOptions) -> dict:
    """Compile for the Edge TPU when edgetpu_compiler exists, else record the flatbuffer-based prediction."""
    from converters.edgetpu import compile_or_predict

    _log(opts, "[+] Edge TPU: compiling with edgetpu_compiler, or predicting the op mapping without it")
    result = compile_or_predict(int8_path, stage)
    print(result.message, file=sys.stderr)
    if not result.compiled and result.install_hint:
        print(f"  install the compiler: {result.install_hint}", file=sys.stderr)
    return result.to_dict()


def load_report(folder: str | Path) -> dict:
    """Read ``report.json`` written by :func:`convert` (the contract later tools read)."""
    path = Path(folder) / "report.json"
    if not path.is_file():
        raise EdgenetError(f"{path}: no conversion report; run edgenet convert --out {folder} first")
    return json.loads(path.read_text(encoding="utf-8"))


def parity_table(report: ConvertReport) -> list[dict]:
    """Rows for the CLI's summary table."""
    onnx_parity = Parity(**report.onnx["parity"])
    rows = [
        dict(
            artefact="model.onnx",
            size=f"{report.onnx['bytes'] / 1e6:.2f} MB",
            io="float32",
            ref="torch",
            maxdiff=f"{report.onnx['parity']['max_abs_diff']:.2e}",
            agree="n/a" if onnx_parity.degenerate else f"{onnx_parity.top1_agreement:.0%}",
            cos=f"{report.onnx['parity']['cosine']:.5f}",
            secs=f"{report.onnx['seconds']:.1f}",
        )
    ]
    for a in report.artifacts:
        p = a.parity
        rows.append(
            dict(
                artefact=a.file,
                size=f"{a.bytes / 1e6:.2f} MB",
                io=a.input_dtype,
                ref=p.reference,
                maxdiff=f"{p.max_abs_diff:.2e}",
                agree="n/a" if p.degenerate else f"{p.top1_agreement:.0%}",
                cos=f"{p.cosine:.5f}",
                secs=f"{a.seconds:.1f}",
            )
        )
    return rows
