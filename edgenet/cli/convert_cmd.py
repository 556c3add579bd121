"""``edgenet convert``: the headline command — PyTorch → ONNX → TFLite, every stage verified."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import (
    calibration_options,
    emit_json,
    json_option,
    model_options,
    options_from,
    picked,
    print_table,
)
from edgenet.converters.options import ConvertOptions  # a plain dataclass: nothing heavy is imported

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
@options_from(ConvertOptions)
@calibration_options
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: build/<model>].")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print the traceback when a third-party converter fails (always logged)."
)
@json_option
def convert(out: Path | None, quiet: bool, verbose: bool, as_json: bool, **kw) -> None:
    """Convert a model to ONNX and TFLite (fp32 always; --fp16, --dynamic, --int8, --kinds add artefacts).

    Each stage is checked against the one before on real inputs: PyTorch vs ONNX Runtime, ONNX vs TFLite fp32,
    each quantized model vs fp32. The output folder is written only when everything passed.
    """
    from edgenet.cli.progress import ConsoleProgress
    from edgenet.converters.failures import ConverterError
    from edgenet.converters.pipeline import convert as run
    from edgenet.converters.pipeline import parity_table
    from edgenet.device_bench.latency import tflite_p50_ms
    from edgenet.quiet import quiet_tensorflow

    quiet_tensorflow()
    from edgenet.cli.options import load_from_options

    asked = picked(ConvertOptions, kw)  # every option named like its ConvertOptions field
    loaded = load_from_options(**kw)
    opts = ConvertOptions(out=out or Path("build") / loaded.name.replace(":", "_"), **asked)
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
