"""``edgenet convert``: the headline command — PyTorch → ONNX → TFLite, every stage verified."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import calibration_options, emit_json, json_option, model_options, print_table

EPILOG = """Examples:

\b
  edgenet convert --model b1 --int8
  edgenet convert --pretrained lite0 --int8 --calib-data photos/ --eval-data val/ --out build/lite0
  edgenet convert --checkpoint runs/b0/best.pt --int8 --int8-io uint8 --calib-data photos/ --out build/b0
  edgenet convert --model lite0 --fp16 --dynamic --json > report.json
  edgenet convert --checkpoint runs/b0/best.pt --int8 --calib-data imgs/train --eval-data imgs/test \\
      --auto-fix --max-drop 1.0    # tries int8 fixes in order of cost, keeps the first within 1 point
  edgenet convert --checkpoint runs/b0/best.pt --int8 --keep-float 3 --calib-data imgs/train
  edgenet convert --checkpoint runs/b0/best.pt --int8 --quantizer aeq --calibration percentile:99.99 \
      --calib-data imgs/train
  edgenet convert --pretrained lite0 --int8 --executorch --tensorrt --calib-data photos/ --out build/lite0
"""


@click.command(epilog=EPILOG)
@model_options
@click.option("--int8", is_flag=True, help="Add a full-integer int8 model (per-channel weights, calibrated).")
@click.option("--fp16", is_flag=True, help="Add a float16-weights model.")
@click.option("--dynamic", is_flag=True, help="Add a dynamic-range model (int8 weights, float activations).")
@click.option(
    "--int8-io",
    type=click.Choice(["int8", "uint8", "float32"]),
    default="int8",
    show_default=True,
    help="Input/output type of the int8 model (uint8 for Edge TPU apps; float32 keeps float I/O).",
)
@click.option(
    "--input",
    "input_kind",
    type=click.Choice(["raw", "normalized"]),
    help="What every artefact's input takes: raw = RGB pixels 0–255, the normalization inside the graph (what "
    "MediaPipe, the Task Library and Coral feed; uint8 input scale 1, zero point 0); normalized = (v/255 − mean) "
    "/ std, for apps that normalize themselves. [default: raw with --int8-io uint8, else normalized]",
)
@calibration_options
@click.option(
    "--parity-samples",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Inputs on which each stage is compared with the previous one.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    help="Fail if a quantized model's top-1 agreement with fp32 falls below this.",
)
@click.option("--edgetpu", is_flag=True, help="Also compile for the Coral Edge TPU (implies --int8).")
@click.option("--int16-act", is_flag=True, help="Add a 16×8 model: int16 activations, int8 weights (no Edge TPU).")
@click.option(
    "--keep-float",
    metavar="N|LAYER,...",
    help="Keep the N worst layers (as ranked by edgenet quant-report) or the named ones in float; "
    "the int8 model is then no longer full-integer.",
)
@click.option(
    "--eval-data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Labelled images DIR/<class>/<image>: adds every artefact's top-1/top-5 and agreement to the report.",
)
@click.option(
    "--auto-fix",
    is_flag=True,
    help="Try int8 fixes in order of cost (more calibration, float fallback of the worst layers, 16×8) and keep "
    "the first within --max-drop on --eval-data.",
)
@click.option("--max-drop", type=float, default=1.0, show_default=True, help="Accepted int8 accuracy loss in points.")
@click.option(
    "--latency-budget",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MS",
    help="With --auto-fix: recommend the largest Lite variant estimated to fit this int8 latency (1 thread).",
)
@click.option(
    "--executorch", is_flag=True, help="Add ExecuTorch .pte programs: fp32 and int8 (PT2E), XNNPACK-delegated."
)
@click.option(
    "--tensorrt",
    is_flag=True,
    help="Add the Q/DQ int8 ONNX TensorRT builds int8 from, and fp16/int8 engines when a GPU and tensorrt are here.",
)
@click.option("--no-simplify", is_flag=True, help="Skip onnxslim graph simplification.")
@click.option("--opset", type=click.IntRange(min=17), default=17, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: build/<model>].")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print the traceback when a third-party converter fails (always logged)."
)
@json_option
def convert(
    int8: bool,
    fp16: bool,
    dynamic: bool,
    int8_io: str,
    input_kind: str | None,
    quantizer: str,
    calibration: str,
    calib_data: Path | None,
    calib_samples: int,
    parity_samples: int,
    min_agreement: float | None,
    edgetpu: bool,
    int16_act: bool,
    keep_float: str | None,
    eval_data: Path | None,
    auto_fix: bool,
    max_drop: float,
    latency_budget: float | None,
    executorch: bool,
    tensorrt: bool,
    no_simplify: bool,
    opset: int,
    out: Path | None,
    quiet: bool,
    verbose: bool,
    as_json: bool,
    **model_kw,
) -> None:
    """Convert a model to ONNX and TFLite (fp32 always; --fp16, --dynamic, --int8 add artefacts).

    Each stage is checked against the one before on real inputs: PyTorch vs ONNX Runtime, ONNX vs TFLite fp32,
    each quantized model vs fp32. The output folder is written only when everything passed.
    """
    from converters.failures import ConverterError
    from converters.pipeline import ConvertOptions, parity_table
    from converters.pipeline import convert as run
    from device_bench.latency import tflite_p50_ms
    from edgenet.cli.progress import ConsoleProgress
    from edgenet.quiet import quiet_tensorflow

    quiet_tensorflow()
    from edgenet.cli.options import load_from_options

    loaded = load_from_options(**model_kw)
    opts = ConvertOptions(
        out=out or Path("build") / loaded.name.replace(":", "_"),
        fp16=fp16,
        dynamic=dynamic,
        int8=int8,
        int8_io=int8_io,
        input=input_kind,
        quantizer=quantizer,
        calibration=calibration,
        calib_data=calib_data,
        calib_samples=calib_samples,
        parity_samples=parity_samples,
        min_agreement=min_agreement,
        simplify=not no_simplify,
        opset=opset,
        edgetpu=edgetpu,
        int16=int16_act,
        keep_float=keep_float,
        eval_data=eval_data,
        auto_fix=auto_fix,
        max_drop=max_drop,
        latency_budget_ms=latency_budget,
        executorch=executorch,
        tensorrt=tensorrt,
    )
    try:
        report = run(loaded, opts, ConsoleProgress(not quiet), latency_ms=tflite_p50_ms)
    except ConverterError as e:
        if verbose and e.detail:
            click.echo(e.detail, err=True)
        raise
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"{report.model} @ {report.resolution}px, {report.num_classes} classes, weights: {report.weights}")
    cols = [
        ("artefact", "artefact"),
        ("size", "size"),
        ("io", "input"),
        ("ref", "vs"),
        ("maxdiff", "max|Δ|"),
        ("agree", "top-1 agree"),
        ("cos", "cosine"),
        ("secs", "s"),
    ]
    print_table(parity_table(report), cols)
    for w in report.warnings:
        if w.startswith("logits are ~0"):
            click.echo(f"note: {w}")
    if report.calibration:
        c = report.calibration
        params = "".join(f":{v:g}" for v in c.get("params", {}).values())
        click.echo(
            f"calibration: {c['samples']} {c['source']} samples, {c['skipped']} skipped "
            f"({report.quantizer} quantizer, {c.get('method', 'minmax')}{params} ranges)"
        )
    if report.preprocess.get("input") == "raw":
        click.echo("input: RGB pixels 0-255, the normalization inside the model (--input raw; what app runtimes feed)")
    for a in report.artifacts:
        d = (a.details or {}).get("delegation")
        if d:
            click.echo(
                f"{a.file}: XNNPACK runs {d['delegated_ops']} ops in {d['partitions']} partition(s); "
                f"{d['portable_ops']} on portable kernels"
            )
    for w in report.warnings:
        if w.startswith("--tensorrt:"):
            click.echo(f"note: {w}")
    if report.edgetpu:
        e = report.edgetpu
        how = f"compiled: {e['file']}" if e["compiled"] else "NOT compiled (no edgetpu_compiler), predicted"
        click.echo(f"edge tpu: {how}; {e['message']}")
    if report.accuracy or report.int8_fix:
        from edgenet.cli.quant_report_cmd import print_fidelity

        print_fidelity(report)
    click.echo(f"wrote {opts.out}/ in {report.total_seconds:.1f} s")
