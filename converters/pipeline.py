"""``edgenet convert``: PyTorch → ONNX → TFLite artefacts, each stage verified, published in one swap.

The stages, each returning a dataclass the report serializes:

1. :func:`edgenet.converters.graph.export_float` — ONNX and the fp32 ``.tflite`` (:class:`FloatGraph`), checked;
2. :func:`build_artifact` — any registered kind (:mod:`edgenet.converters.kinds`) from that graph, with a quantizer
   (:mod:`edgenet.quantization.quantizers`) and calibration samples;
3. :func:`verify_artifact` — outputs against the kind's reference on the parity inputs, op census, full-integer
   check (:class:`Artifact`);
4. :func:`edgenet.atomic.publish_dir` — everything was built in a staging folder beside ``--out`` and replaces the
   earlier output only when every check has passed, so a failed run leaves no partial files.

``quant-report`` (:mod:`edgenet.workflows.quant_report`) and the benchmarks run the same stages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from edgenet.converters.graph import FloatGraph, export_float
from edgenet.converters.kinds import KINDS, BuildContext, get_kind
from edgenet.converters.options import ConvertOptions
from edgenet.converters.previous_run import refuse_before, settle
from edgenet.converters.raw_input import RAW_RANGE
from edgenet.converters.verify import (
    MIN_COSINE,
    MIN_EVAL_IMAGES,
    Check,
    Parity,
    agreement_check,
    compare,
    fidelity_check,
    kernel_fault_check,
    raise_on_failures,
    tolerance_check,
)

from edgenet import __version__
from edgenet.artifacts.runtime import OnnxRunner, runner_for
from edgenet.atomic import publish_dir, staging_dir
from edgenet.errors import EdgenetError
from edgenet.loading import LoadedModel
from edgenet.progress import SILENT, Progress
from edgenet.resources import StageMeter, StageUsage
from edgenet.runtimes import get_runtime

EDGETPU_FILES = {"model_int8_edgetpu.tflite", "model_int8_edgetpu.log"}
SIDE_FILES = {"model.onnx", "labels.txt", "report.json", *EDGETPU_FILES}
ARTIFACT_FILES = {name: kind.file for name, kind in KINDS.items()}


def owned_files() -> set[str]:
    """Every file a conversion may write, kinds registered later included: a re-run drops those it did not rebuild."""
    return SIDE_FILES | {kind.file for kind in KINDS.values()}


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
    runtime: str = "tflite"
    details: dict | None = None  # what the builder knew (ExecuTorch: XNNPACK delegation counts)


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
    quantizer: str | None = None  # which quantizer made the int8/16×8 models
    recipe: dict | None = (
        None  # the int8 recipe (edgenet.quantization.recipe.Int8Recipe) the int8/16×8 models were made by
    )
    edgetpu: dict | None = None
    accuracy: dict | None = None  # {"torch": {"top1", "top5", "n"}, "onnx": ..., "fp32": ..., "int8": ...}
    agreement: dict | None = None  # {"onnx": top-1 agreement with torch, "fp32": ..., "int8": ...}
    int8_fix: dict | None = None  # what --keep-float / --auto-fix did (edgenet.quantization.fixes.Int8Fix)
    # what --weight-rounding / --bias-correction did (edgenet.quantization.rounding.WeightRounding), with
    # int8_exact_layers: [layers whose integers the int8 .tflite holds bit for bit, layers]
    weight_rounding: dict | None = None
    qat: dict | None = None  # what --qat-epochs did (edgenet.quantization.qat.QatRun)
    stages: list[StageUsage] = field(default_factory=list)  # each stage's seconds and peak memory, in order
    memory_estimate_mb: float | None = None  # the peak this conversion was estimated to need before it started
    total_seconds: float = 0.0
    out: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def build_artifact(kind: str, ctx: BuildContext) -> tuple[bytes, float]:
    """Stage 2: the bytes of ``kind`` and the seconds they took."""
    from edgenet.converters.failures import third_party

    k = get_kind(kind)
    t0 = time.perf_counter()
    if kind == "fp32":
        return ctx.graph.fp32, ctx.graph.tf_seconds
    rt = get_runtime(k.runtime)
    with third_party(f"{rt.label} {kind}", k.tool(ctx) if k.tool else rt.tool, ctx.graph.name):
        data = k.build(ctx)
    return data, time.perf_counter() - t0


def verify_artifact(
    graph: FloatGraph,
    kind: str,
    path: Path,
    seconds: float,
    min_agreement: float | None = None,
    floor: float | None = None,
) -> tuple[Artifact, list[Check], list[str]]:
    """Stage 3: run ``path`` on its runtime's runner and compare it with the kind's reference on the parity inputs
    (fp32 was compared with ONNX Runtime when the graph was built); the artefact, its checks and warnings.

    A float kind with a tolerance must match its float reference within it; every other kind is held to
    ``--min-agreement`` and, with ``floor`` (trained weights), to the fidelity floor: below it, it is not published.
    A Q/DQ model also runs simulated in float, so a fault of this CPU's int8 kernels is told from a model fault."""
    k = get_kind(kind)
    checks, details = [], None
    runner = None
    if kind == "fp32":
        parity = graph.fp32_parity
    else:
        ref = reference_outputs(graph, k.reference, path.parent)
        runner = runner_for(path, graph.threads)
        parity = compare(k.reference, ref, runner(graph.parity_x))
        floor = None if parity.degenerate else floor
        if k.runtime == "onnxruntime" and k.calibrated:  # the Q/DQ model as written, whatever the kernels do
            simulated = compare(k.reference, ref, OnnxRunner(path, graph.threads, simulate_qdq=True)(graph.parity_x))
            details = {"simulated_qdq": asdict(simulated)}
            fault = kernel_fault_check(path.name, kind, parity, simulated, _cpu_int8())
            if fault is not None and floor is not None:
                checks.append(fault)
        if k.tolerance is not None:
            checks.append(tolerance_check(f"{kind}_vs_{k.reference}", parity, ref, *k.tolerance))
        else:
            if min_agreement is not None:
                ok = parity.top1_agreement >= min_agreement
                checks.append(Check(f"{kind}_top1_agreement", f">= {min_agreement}", parity.top1_agreement, ok))
            if floor is not None:
                checks.append(fidelity_check(path.name, kind, parity, floor))
    d = k.describe(k, path, runner)
    artifact = Artifact(
        name=kind,
        file=path.name,
        bytes=path.stat().st_size,
        input_dtype=d.input_dtype,
        output_dtype=d.output_dtype,
        ops=d.ops,
        transpose_ops=d.ops.get("TRANSPOSE", 0),
        seconds=round(seconds, 3),
        parity=parity,
        full_integer=d.full_integer,
        runtime=k.runtime,
        details=details,
    )
    return artifact, checks, d.warnings


def _cpu_int8() -> str | None:
    """This CPU's int8 instructions ("AVX2, no VNNI"), to name in a runtime-fault message."""
    from edgenet.cpu import cpu_int8

    return cpu_int8()[1]


def reference_outputs(graph: FloatGraph, reference: str, folder: Path) -> np.ndarray:
    """Logits of a kind's reference on the parity inputs: ONNX Runtime's, TFLite fp32's, or another built kind's."""
    if reference == "onnx":
        return graph.onnx_out
    if reference == "fp32":
        return graph.fp32_out
    path = folder / get_kind(reference).file
    if not path.is_file():
        raise EdgenetError(f"{path.name} is the reference of this artefact kind: build {reference} too")
    return runner_for(path, graph.threads)(graph.parity_x)


def convert(
    loaded: LoadedModel,
    opts: ConvertOptions,
    progress: Progress = SILENT,
    latency_ms: Callable[[bytes], float] | None = None,
) -> ConvertReport:
    """Run every stage for ``loaded`` and publish the artefacts into ``opts.out``; returns the report.

    ``latency_ms(tflite_bytes)`` times an int8 model on this machine for ``--auto-fix``'s advice; timing is bench's
    job, so the caller passes it in (the CLI and :mod:`edgenet.api` pass
    :func:`edgenet.device_bench.latency.tflite_p50_ms`) and without it the advice names no latency estimate."""
    from edgenet.quiet import native_stderr_captured, quiet_tensorflow

    quiet_tensorflow()
    with native_stderr_captured():
        return _convert(loaded, opts, progress, latency_ms)


def _check_options(loaded: LoadedModel, opts: ConvertOptions) -> None:
    from edgenet.validate import convert_options

    convert_options(opts)  # the same rules for the CLI and edgenet.api.convert
    if loaded.preprocess.resolution < 32:
        raise EdgenetError(
            f"resolution {loaded.preprocess.resolution}: EfficientNet downsamples 32×; use --img-size 32 or more"
        )
    if opts.edgetpu:
        opts.int8 = True
        if opts.int8_io == "float32":
            raise EdgenetError("--edgetpu needs integer model I/O; use --int8-io uint8 or int8")
    if opts.int8_io not in ("int8", "uint8", "float32"):
        raise EdgenetError(f"--int8-io {opts.int8_io}: choose int8, uint8 or float32")
    from edgenet.quantization.calibration_methods import parse_method
    from edgenet.quantization.quantizers import get_quantizer

    parse_method(opts.calibration)
    if not get_quantizer(opts.quantizer).available():
        raise EdgenetError(
            f"--quantizer {opts.quantizer}: its library is not installed; pip install 'ai-edge-quantizer>=0.10'"
        )
    if opts.input_kind() not in ("raw", "normalized"):
        raise EdgenetError(f"--input {opts.input}: choose raw or normalized")
    if _rounds(opts) and not any(get_kind(k).calibrated for k in opts.kind_names()[0]):
        raise EdgenetError(
            "--weight-rounding/--bias-correction/--qat-epochs are for a calibrated model: add --int8 (or --edgetpu, "
            "--int16-act, --executorch, --tensorrt)"
        )
    if opts.keep_float or opts.auto_fix:
        from edgenet.quantization.fixes import check_fix_options

        check_fix_options(opts, loaded.model)


def _convert(loaded: LoadedModel, opts: ConvertOptions, progress: Progress, latency_ms=None) -> ConvertReport:
    from edgenet.quantization.calibration import calibration_set
    from edgenet.quantization.recipe import Int8Recipe

    t_start = time.perf_counter()
    _check_options(loaded, opts)
    if opts.input_kind() == "raw":  # every artefact (ONNX included) takes RGB 0–255; report.json says so
        from edgenet.converters.raw_input import with_raw_input

        loaded = with_raw_input(loaded)
    recipe = Int8Recipe(
        opts.quantizer, opts.calibration, opts.int8_io, calibrator=opts.calibrator,
        weight_rounding=opts.weight_rounding, bias_correction=opts.bias_correction, qat_epochs=opts.qat_epochs,
    )  # fmt: skip
    pre = loaded.preprocess
    report = _new_report(loaded, opts)

    def warn(msg: str) -> None:
        report.warnings.append(msg)
        progress.warn(msg)

    kinds = _kinds_to_build(opts, warn)
    needs_calib = any(get_kind(k).calibrated for k in kinds)
    report.memory_estimate_mb = _check_memory(loaded, opts)
    meter = StageMeter()
    with staging_dir(opts.out) as stage:  # fails early if --out is not writable
        refuse_before(Path(opts.out), _planned_files(kinds, loaded, opts))  # the user's files: now and at the end
        # Calibration / parity inputs first, so a bad --calib-data fails before minutes of conversion.
        with meter.stage("inputs"):
            cal, synthetic_warning = calibration_set(
                opts.calib_data, pre, opts.calib_samples if needs_calib else opts.parity_samples, progress
            )
        if needs_calib:
            report.calibration = {**cal.summary(), **_method_entry(opts.calibration)}
            report.quantizer = recipe.quantizer
            report.recipe = recipe.to_dict()
            if synthetic_warning:
                warn(synthetic_warning)
        if loaded.weights == "random":
            warn("no weights given: converting the randomly initialised network (pass --checkpoint or --weights)")
        scorer = None
        if opts.eval_data is not None:  # read before converting: class folders the model lacks fail now, named
            from edgenet.artifacts.scoring import Scorer, load_eval_set

            es = load_eval_set(opts.eval_data, pre, loaded.classes, loaded.num_classes)
            scorer = Scorer(es, loaded.model, opts.threads)

        model = _rounded(loaded, opts, cal.samples, report, meter, progress) if _rounds(opts) else loaded.model
        graph = export_float(
            model, loaded.name, pre.resolution, stage, cal.samples[: opts.parity_samples], opts.opset,
            opts.simplify, opts.threads, progress, RAW_RANGE if pre.input == "raw" else None, meter,
        )  # fmt: skip
        if not any(get_kind(k).needs_tf_graph for k in kinds):
            graph.release_tf_graph()  # B7's TF graph holds gigabytes the calibration needs
        report.onnx = graph.onnx_summary()
        report.checks += graph.checks
        if float(np.abs(graph.fp32_out).max()) < 1e-6:
            report.warnings.append(
                "logits are ~0 on every input (an untrained network): top-1 agreement is not meaningful; "
                "convert trained weights to measure int8 fidelity"
            )
        ctx = BuildContext(graph, cal.samples if needs_calib else None, recipe, progress, model=model, meter=meter)
        fix = (lambda: _int8_fix(ctx, loaded, opts, scorer, latency_ms)) if opts.keep_float or opts.auto_fix else None
        # trained weights are held to the fidelity floors; a random network's int8 is chaotic and keeps the note
        floor = None if loaded.weights == "random" or opts.accept_low_fidelity else MIN_COSINE
        _build_all(kinds, ctx, stage, report, opts.min_agreement, fix, floor)
        raise_on_failures("TFLite conversion", report.checks)
        _publish(report, stage, graph, loaded, opts, scorer, progress, t_start, floor, meter)
    return report


def _rounds(opts: ConvertOptions) -> bool:
    return opts.weight_rounding != "nearest" or opts.bias_correction or opts.qat_epochs > 0


def _rounded(loaded: LoadedModel, opts: ConvertOptions, samples, report: ConvertReport, meter, progress):
    """The network with BatchNorm folded and its weights on the int8 grid: fine-tuned with quantization first
    (``--qat-epochs``), rounded as asked (every kind is then built from it; accuracy is still scored against the
    network as given)."""
    from edgenet.quantization.rounding import round_weights

    model = loaded.model
    if opts.qat_epochs:
        from edgenet.quantization.qat import qat_finetune

        with meter.stage("quantization-aware fine-tuning"):
            model, run = qat_finetune(
                model, samples, opts.qat_epochs, opts.qat_lr, progress=progress, calibration=opts.calibration
            )
        report.qat = run.to_dict()
    with meter.stage("weight rounding"):
        model, done = round_weights(
            model, samples, opts.weight_rounding, opts.bias_correction, opts.adaround_iterations, progress
        )
    report.weight_rounding = done.to_dict()
    return model


def _check_exact(int8: Path, model, report: ConvertReport) -> None:
    """Record whether the int8 ``.tflite`` holds the rounding's integers; a layer that does not is a warning (the
    quantizer moved it: the rounding was lost there, the model is still valid)."""
    from edgenet.quantization.rounding import tflite_matches

    found, total = tflite_matches(model, int8)
    report.weight_rounding["int8_exact_layers"] = [found, total]
    if found < total:
        report.warnings.append(
            f"{int8.name}: {total - found} of {total} layers' int8 weights are not the weight rounding's integers "
            "(the quantizer re-rounded them)"
        )


def _planned_files(kinds: list[str], loaded: LoadedModel, opts: ConvertOptions) -> set[str]:
    """The names this conversion will write into ``--out``, known before any work."""
    names = {get_kind(k).file for k in kinds} | {"model.onnx", "report.json"}
    return names | ({"labels.txt"} if loaded.classes else set()) | (EDGETPU_FILES if opts.edgetpu else set())


def _new_report(loaded: LoadedModel, opts: ConvertOptions) -> ConvertReport:
    pre = loaded.preprocess
    return ConvertReport(
        edgenet_version=__version__,
        model=loaded.name,
        resolution=pre.resolution,
        num_classes=loaded.num_classes,
        weights=loaded.weights,
        preprocess=pre.to_dict(),
        classes=loaded.classes,
        calibration=None,
        onnx={},
        out=str(opts.out),
    )


def _kinds_to_build(opts: ConvertOptions, warn: Callable[[str], None]) -> list[str]:
    """The kinds asked for; an unknown kind, or one whose runtime cannot run here, fails before any work."""
    kinds, skipped = opts.kind_names()
    for msg in skipped:
        warn(msg)
    for k in kinds:
        why = get_runtime(get_kind(k).runtime).unavailable()
        if why:
            raise EdgenetError(f"{k}: {why}")
    return kinds


def _build_all(
    kinds: list[str],
    ctx: BuildContext,
    stage: Path,
    report: ConvertReport,
    min_agreement: float | None,
    fix=None,
    floor: float | None = None,
) -> None:
    """Stages 2–3 for every kind into ``stage``: build, write, verify; ``fix()`` (``--keep-float``/``--auto-fix``)
    makes the int8 model instead, and may choose the 16×8 one."""
    fixed = None
    for i, kind in enumerate(kinds):
        if any(a.name == kind for a in report.artifacts):  # the 16×8 model --auto-fix already chose
            continue
        ctx.progress.step(f"[3/3] {get_runtime(get_kind(kind).runtime).label} {kind} ({i + 1}/{len(kinds)})")
        with ctx.meter.stage(kind) if ctx.meter else nullcontext():
            fixed = _build_one(kind, ctx, stage, report, min_agreement, fix, floor, fixed)


def _build_one(kind: str, ctx: BuildContext, stage: Path, report: ConvertReport, min_agreement, fix, floor, fixed):
    """One kind of :func:`_build_all`; returns the --auto-fix result once int8 has been made."""
    rounded_model = None
    if kind == "int8" and fix is not None:
        t0 = time.perf_counter()
        fixed = fix()
        data, kind, seconds = fixed.data, fixed.kind, time.perf_counter() - t0
        report.int8_fix = fixed.summary()
        report.quantizer = fixed.quantizer  # the model written may come from another quantizer/method
        report.calibration.update(_method_entry(fixed.method))
        report.recipe = ctx.recipe.with_(quantizer=fixed.quantizer, method=fixed.method).to_dict()
        chosen = ctx.details.pop("rounded", None)  # the last rounding --auto-fix tried
        if fixed.fix.startswith("rounding:"):  # the int8 model is of the rounded weights: say so, and check them
            report.weight_rounding = chosen["rounding"].to_dict()
            report.recipe.update(weight_rounding=report.weight_rounding["rounding"], bias_correction=True)
            rounded_model = chosen["model"]
    else:
        data, seconds = build_artifact(kind, ctx)
    path = stage / get_kind(kind).file
    path.write_bytes(data)
    artifact, checks, warnings = verify_artifact(ctx.graph, kind, path, seconds, min_agreement, floor)
    artifact.details = {**(ctx.details.get(kind) or {}), **(artifact.details or {})} or None
    report.artifacts.append(artifact)
    if kind == "int8" and report.weight_rounding is not None and artifact.full_integer:
        _check_exact(path, ctx.model if rounded_model is None else rounded_model, report)
    report.checks += checks
    report.warnings += warnings
    if fixed is not None and kind == fixed.kind and fixed.warning():
        report.warnings.append(fixed.warning())
    elif artifact.full_integer is False:
        report.checks.append(Check(f"{kind}_full_integer", "True", 0.0, False))
    return fixed


def _publish(
    report, stage: Path, graph: FloatGraph, loaded: LoadedModel, opts, scorer, progress, t_start, floor=None, meter=None
) -> None:
    """Edge TPU, accuracy (held to the agreement floor with ``floor``), labels and report.json into ``stage``, then
    the one swap into ``opts.out``."""
    meter = meter or StageMeter()
    if opts.edgetpu:
        with meter.stage("edgetpu"):
            report.edgetpu = _edgetpu(stage / get_kind("int8").file, stage, Path(opts.out), progress)
    if scorer is not None:
        progress.step(f"accuracy of every artefact on {scorer.es.n} images of {opts.eval_data}")
        files = {"onnx": graph.onnx_path, **{a.name: stage / a.file for a in report.artifacts}}
        with meter.stage("accuracy"):
            report.accuracy, report.agreement = scorer.table(files)
        if floor is not None and scorer.es.n >= MIN_EVAL_IMAGES:
            report.checks += _agreement_floors(report)
            raise_on_failures("accuracy", report.checks)
    if loaded.classes:
        (stage / "labels.txt").write_text("\n".join(loaded.classes) + "\n", encoding="utf-8")
    # one swap: the whole new set, the user's own files carried over, an earlier run's artefacts that this run
    # did not rebuild (those its report.json lists) dropped
    earlier, note = settle(Path(opts.out), stage)
    if note:
        report.warnings.append(note)
        progress.warn(note)
    report.stages = meter.stages
    report.total_seconds = round(time.perf_counter() - t_start, 3)
    (stage / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    publish_dir(stage, opts.out, owned=earlier)


def _agreement_floors(report: ConvertReport) -> list[Check]:
    """Top-1 agreement with PyTorch on --eval-data for every quantized artefact (float kinds follow exactly)."""
    n = (report.accuracy or {}).get("torch", {}).get("n", 0)
    return [
        agreement_check(a.file, a.name, report.agreement[a.name], n)
        for a in report.artifacts
        if a.name in (report.agreement or {}) and a.name != "fp32" and get_kind(a.name).tolerance is None
    ]


def _method_entry(spec: str) -> dict:
    """report.json's ``calibration.method`` and ``calibration.params``."""
    from edgenet.quantization.calibration_methods import parse_method

    method, param = parse_method(spec)
    return method.spec(param)


def _int8_fix(ctx: BuildContext, loaded: LoadedModel, opts: ConvertOptions, scorer, latency_ms=None):
    """``--keep-float`` / ``--auto-fix``: the int8 model from the same calibration, with the fix applied."""
    from edgenet.converters.rounded import rounded_int8
    from edgenet.quantization import calibration as calib
    from edgenet.quantization.calibration import Calibration
    from edgenet.quantization.calibration_methods import METHODS, parse_method
    from edgenet.quantization.debugger import analyse
    from edgenet.quantization.fixes import int8_with_fixes, recommendations
    from edgenet.quantization.quantizers import QUANTIZERS
    from edgenet.quantization.recipe import ROUNDING_FIXES

    graph, samples = ctx.graph, ctx.samples
    calibrated = ctx.calibrated()
    analysis = analyse(ctx.quantizer, graph.fp32_path, graph.onnx_path, calibrated, samples)

    def more_calibration() -> np.ndarray | None:
        if opts.calib_data is None:
            return None
        more = calib.from_folder(opts.calib_data, loaded.preprocess, 4 * opts.calib_samples, progress=ctx.progress)
        return more.samples if len(more.samples) > len(samples) else None

    def advice(int8: bytes) -> list[str]:
        cfg = loaded.model.config
        ms = latency_ms(int8) if latency_ms is not None else None
        return recommendations(
            loaded.name, cfg.act, loaded.preprocess.resolution, cfg.num_classes, ms, opts.latency_budget_ms
        )

    def rounded(rounding: str, bias_correction: bool) -> bytes:
        r = rounded_int8(
            loaded.model, loaded.name, loaded.preprocess.resolution, samples, graph.parity_x, ctx.quantizer,
            opts.calibration, opts.int8_io, rounding, bias_correction, opts.adaround_iterations, graph.input_range,
            ctx.recipe.calibrator, ctx.progress,
        )  # fmt: skip
        ctx.details["rounded"] = {"model": r.model, "rounding": r.rounding}  # the last one tried; read if accepted
        return r.data

    own = (opts.weight_rounding, opts.bias_correction)
    return int8_with_fixes(
        ctx.quantizer,
        graph.fp32,
        calibrated,
        analysis,
        samples,
        opts.int8_io,
        keep_float=opts.keep_float,
        max_drop=opts.max_drop,
        full_integer_only=opts.edgetpu,
        evaluate=scorer.model_bytes if scorer else None,
        reference_top1=scorer.torch.top1 if scorer else None,
        more_calibration=more_calibration,
        advice=advice,
        progress=ctx.progress,
        method=opts.calibration,
        calibrated_with=ctx.calibrated,
        methods=[m for m in METHODS if m != parse_method(opts.calibration)[0].name],
        quantizers=[q for q in QUANTIZERS.values() if q.name != ctx.quantizer.name and q.available()],
        calibrate=lambda more: Calibration(graph.fp32, more, graph.input_range, ctx.recipe.calibrator, ctx.meter).model(
            ctx.quantizer, progress=ctx.progress
        ),
        rounded=rounded,
        roundings=[r for r in ROUNDING_FIXES if r != own and not (own[0] == "adaround" and r[0] == "nearest")],
    )


def _edgetpu(int8_path: Path, stage: Path, out: Path, progress: Progress) -> dict:
    """Compile for the Edge TPU when edgetpu_compiler exists, else record the flatbuffer-based prediction.

    Paths in the result name the published folder, not the staging folder they were made in."""
    from edgenet.converters.edgetpu import compile_or_predict

    progress.step("[+] Edge TPU: compiling with edgetpu_compiler, or predicting the op mapping without it")
    result = compile_or_predict(int8_path, stage)
    if result.compiled:
        progress.step(result.message)
    else:
        progress.warn(result.message)
    if not result.compiled and result.install_hint:
        progress.step(f"  install the compiler: {result.install_hint}")
    return _moved(result.to_dict(), str(stage), str(out))


def _moved(obj, old: str, new: str):
    """``obj`` with every string path under ``old`` rewritten to the same place under ``new``."""
    if isinstance(obj, dict):
        return {k: _moved(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_moved(v, old, new) for v in obj]
    return new + obj[len(old) :] if isinstance(obj, str) and obj.startswith(old) else obj


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


def _check_memory(loaded: LoadedModel, opts: ConvertOptions) -> float | None:
    """The peak resident memory this conversion is estimated to need (MB); fails before any work when this
    machine's free memory is smaller, unless ``--ignore-memory-estimate``."""
    from edgenet.converters.memory import estimate_peak_mb

    from edgenet.resources import available_memory_mb

    need = estimate_peak_mb(loaded.model, loaded.preprocess.resolution)
    free = available_memory_mb()
    if free is not None and need > free and not opts.ignore_memory_estimate:
        raise EdgenetError(
            f"{loaded.name} at {loaded.preprocess.resolution} px: converting needs about {need / 1024:.1f} GB "
            f"(estimate) and this machine has {free / 1024:.1f} GB free; free memory, lower --img-size, or pass "
            "--ignore-memory-estimate to start anyway"
        )
    return round(need, 1)
