"""``edgenet quant-report``: per-layer int8 error, ranked and named after the EfficientNet layer it belongs to."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import (
    calibration_options,
    emit_json,
    json_option,
    model_options,
    options_from,
    print_table,
)
from edgenet.converters.options import ConvertOptions  # a plain dataclass: nothing heavy is imported

EPILOG = """Examples:

\b
  edgenet quant-report --checkpoint runs/b0/best.pt --calib-data imgs/train --out reports/b0-int8
  edgenet quant-report --checkpoint runs/b0/best.pt --calib-data imgs/train --eval-data imgs/test --top 5
  edgenet quant-report --model-file build/b0/model_int8.tflite --calib-data imgs/train   # an existing pair

\b
Each quantized tensor's own error (TF's QuantizationDebugger: float and int8 ops fed the same input):
SQNR of the whole tensor, median SQNR over its channels (catches a per-tensor scale that crushes most channels),
RMS error in quantization steps (≈0.29 is pure rounding; more means clipping). Writes layers.csv,
error_by_depth.png and report.json to --out. Fix the worst layers with `edgenet convert --keep-float N`.
"""


@click.command("quant-report", epilog=EPILOG)
@model_options
@calibration_options
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Calibration images the debugger runs through the float and int8 layers.",
)
@click.option(
    "--eval-data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Labelled images DIR/<class>/<image>: adds fp32 vs int8 top-1 and agreement.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [default: build/<model>/quant-report].")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Rows of the table.")
@click.option(
    "--latency-budget",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MS",
    help="Recommend the largest Lite variant estimated to fit this int8 latency (1 thread).",
)
@click.option(
    "--model-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Analyse this int8 .tflite against its float twin instead of converting a checkpoint (errors are then "
    "accumulated, not per layer).",
)
@click.option(
    "--float",
    "float_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The float .tflite of --model-file [default: model_fp32.tflite beside it].",
)
@click.option("--opset", type=click.IntRange(min=17), default=17, show_default=True, help="ONNX opset (as in convert).")
@click.option(
    "--rounding-trials/--no-rounding-trials",
    default=True,
    show_default=True,
    help="Also try the weights rounded before export: --bias-correction, then AdaRound with it (minutes at 224 px).",
)
@options_from(ConvertOptions, "adaround_iterations")  # convert's own flag: the trials round as convert would
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@json_option
def quant_report(
    calib_data: Path | None,
    calib_samples: int,
    samples: int,
    eval_data: Path | None,
    out: Path | None,
    top: int,
    latency_budget: float | None,
    quantizer: str,
    calibration: str,
    model_file: Path | None,
    float_file: Path | None,
    opset: int,
    rounding_trials: bool,
    adaround_iterations: int,
    quiet: bool,
    as_json: bool,
    **model_kw,
) -> None:
    """Rank the layers int8 quantization hurts most, with their stage/block, and suggest fixes."""
    from edgenet.quiet import quiet_tensorflow

    quiet_tensorflow()
    from edgenet.cli.options import load_from_options
    from edgenet.cli.progress import ConsoleProgress
    from edgenet.workflows.quant_report import quant_report as run

    if model_file is not None:
        from edgenet.workflows.quant_report import quant_report_pair

        given = [k for k, v in model_kw.items() if v not in (None, "auto", False)]
        if given:
            raise click.UsageError(f"--model-file analyses a file; drop --{given[0].replace('_', '-')}")
        out = out or model_file.parent / "quant-report"
        report = quant_report_pair(
            model_file, out, float_file, calib_data, calib_samples, samples, eval_data, top, quantizer,
            ConsoleProgress(not quiet),
        )  # fmt: skip
    else:
        if float_file is not None:
            raise click.UsageError("--float goes with --model-file")
        loaded = load_from_options(**model_kw)
        out = out or Path("build") / loaded.name.replace(":", "_") / "quant-report"
        report = run(
            loaded, out, calib_data, calib_samples, samples, eval_data, top, latency_budget, quantizer, opset,
            ConsoleProgress(not quiet), calibration, rounding_trials, adaround_iterations,
        )  # fmt: skip
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(
        f"{report.model} @ {report.resolution}px{'' if report.act == '?' else f' ({report.act})'}, "
        f"{len(report.layers)} quantized tensors, "
        f"{report.debug_samples} debug images; worst {min(top, len(report.layers))}:"
    )
    print_table([_row(e) for e in report.layers[:top]], COLUMNS)
    if report.errors == "accumulated":
        click.echo("(accumulated error: each tensor's error includes everything upstream of it)")
    if report.accuracy:
        a = report.accuracy
        click.echo(
            f"top-1 fp32 {a['fp32']['top1']:.4f}, int8 {a['int8']['top1']:.4f} (drop {report.drop:g} points), "
            f"agreement {report.agreement:.1%} on {a['int8']['n']} images"
        )
    click.echo(f"int8 latency here: {report.int8_ms:.2f} ms (1 thread)")
    _print_methods(report.methods)
    for s in report.suggestions:
        click.echo(f"- {s}")
    click.echo(f"wrote {out}/{{{','.join(report.files)}}}")


def _print_methods(methods: list[dict]) -> None:
    """The calibration methods' and weight roundings' table (same calibration images, float I/O)."""
    if not methods:
        return
    labelled = methods[0]["top1"] is not None
    click.echo("calibration methods and weight roundings (same calibration images, full-integer, float I/O):")
    rows = [
        dict(
            method=t["method"],
            agree=f"{t['agreement']:.1%}",
            sqnr="-" if t["logits_sqnr_db"] is None else f"{t['logits_sqnr_db']:.1f}",
            top1="-" if not labelled else f"{100 * t['top1']:.2f}",
        )
        for t in methods
    ]
    cols = [("method", "method"), ("agree", "agree w/ float"), ("sqnr", "logits SQNR dB")]
    print_table(rows, cols + ([("top1", "top-1 %")] if labelled else []))


COLUMNS = [
    ("rank", "#"),
    ("layer", "layer"),
    ("where", "stage/block"),
    ("op", "op"),
    ("sqnr", "SQNR dB"),
    ("ch", "chan. SQNR dB"),
    ("rmse", "RMSE/scale"),
]


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _row(e) -> dict:
    where = f"{e.stage}/{e.block}" if e.stage is not None else "-"
    return dict(
        rank=e.rank,
        layer=e.layer,
        where=where,
        op=e.op,
        sqnr=_fmt(e.sqnr_db, ".1f"),
        ch=_fmt(e.channel_sqnr_db, ".1f"),
        rmse=_fmt(e.rmse_over_scale, ".2f"),
    )


def print_fidelity(report) -> None:
    """``edgenet convert``'s accuracy table (``--eval-data``) and what ``--keep-float``/``--auto-fix`` did."""
    if report.accuracy:
        n, k = report.accuracy["torch"]["n"], report.accuracy["torch"].get("k", 5)
        ref = report.accuracy["torch"]["top1"]
        rows = [
            dict(
                name=name,
                top1=f"{m['top1']:.4f}",
                top5=f"{m['top5']:.4f}",
                drop=f"{100 * (ref - m['top1']):+.2f}" if name != "torch" else "-",
                agree="-" if name == "torch" else f"{report.agreement[name]:.1%}",
            )
            for name, m in report.accuracy.items()
        ]
        click.echo(f"accuracy on {n} images:")
        cols = [("name", "model"), ("top1", "top-1"), ("top5", f"top-{k}"), ("drop", "drop (pts)"), ("agree", "agree")]
        print_table(rows, cols)
    fix = report.int8_fix
    if fix:
        for a in fix["attempts"]:
            mark = "kept" if a["accepted"] else "    "
            click.echo(
                f"{mark} auto-fix {a['fix']}: top-1 {a['top1']:.4f} (drop {a['drop']:g} pts), "
                f"agreement {a['agreement']:.1%}, {a['seconds']:.1f} s"
            )
        if fix.get("gain") is not None:
            click.echo(
                f"auto-fix chose {fix['fix']} ({fix['quantizer']} quantizer, {fix['method']} ranges): "
                f"{fix['gain']:+g} points over plain int8"
            )
        if fix["kept_float"]:
            readers = f" (+ their readers: {', '.join(fix['float_readers'])})" if fix["float_readers"] else ""
            click.echo(f"kept in float: {', '.join(fix['kept_float'])}{readers}: no longer full-integer (no Edge TPU)")
        elif fix["kind"] == "int16":
            click.echo("16×8 (int16 activations) written as model_int16x8.tflite: not full-integer int8 (no Edge TPU)")
