"""``edgenet eval``: top-1/top-5, per-class accuracy and a confusion matrix of a checkpoint on an image folder."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import emit_json, json_option, print_table

EPILOG = """Examples:

\b
  edgenet eval --checkpoint runs/b0/best.pt --data imgs/test
  edgenet eval --checkpoint runs/b0/best.pt --data imgs/test --out reports/b0-test --json
  edgenet eval --model-file build/b0/model_int8.tflite --data imgs/test     (any converted .tflite/.onnx)

\b
Images are preprocessed with the checkpoint's own settings (resolution, resize/crop, mean/std), the ones
convert puts into the deployed model; labels follow the checkpoint's class names, so the folder may hold a subset
of the classes. A converted model (--model-file) reads both from the report.json that convert wrote beside it
(else pass --mean/--std/--img-size) and runs with its own input type and quantization parameters, so an int8
model is scored exactly as it will run. Unreadable and oversized images (decompression bombs) are skipped and
counted. Writes metrics.json, confusion.csv and confusion.png to --out (default: eval-<data folder> beside the
checkpoint).
"""


@click.command("eval", epilog=EPILOG)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A converted .tflite or .onnx (instead of --checkpoint).",
)
@click.option(
    "--mean", callback=lambda c, p, v: _triple(p, v), metavar="R,G,B", help="For a --model-file without report.json."
)
@click.option(
    "--std", callback=lambda c, p, v: _triple(p, v), metavar="R,G,B", help="For a --model-file without report.json."
)
@click.option("--img-size", type=click.IntRange(32, 2048), help="For a --model-file without report.json.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads of a --model-file's runtime [all].")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), required=True, help="DIR/<class>/<image>.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for metrics and the matrix.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True, help="Data-loading processes.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@json_option
def eval_(
    checkpoint: Path | None,
    model_file: Path | None,
    mean,
    std,
    img_size: int | None,
    threads: int | None,
    data: Path,
    out: Path | None,
    batch_size: int,
    workers: int,
    device: str,
    quiet: bool,
    as_json,
) -> None:
    """Evaluate a checkpoint on a folder of labelled images."""
    import json
    from dataclasses import asdict

    from edgenet.atomic import publish_dir, refuse_output_inside, staging_dir
    from edgenet.errors import EdgenetError
    from edgenet.evaluate import evaluate_checkpoint, write_confusion_csv, write_confusion_png

    if (checkpoint is None) == (model_file is None):
        raise EdgenetError("give either --checkpoint FILE or --model-file X.tflite|X.onnx")
    out = out or (checkpoint or model_file).parent / f"eval-{data.resolve().name}"
    refuse_output_inside(out, "--out", data, "--data")
    progress = not quiet and not as_json
    with staging_dir(out) as tmp:  # an unwritable --out fails here, before minutes of evaluation
        if model_file is not None:
            from edgenet.artifacts.scoring import evaluate_artifact

            result = evaluate_artifact(model_file, data, mean, std, img_size, threads, progress=progress)
        else:
            result = evaluate_checkpoint(checkpoint, data, batch_size, workers, device, progress=progress)
        checkpoint = checkpoint or model_file
        (tmp / "metrics.json").write_text(json.dumps(asdict(result), indent=2), encoding="utf-8")
        write_confusion_csv(result, tmp / "confusion.csv")
        write_confusion_png(
            result, tmp / "confusion.png", title=f"{checkpoint.name} on {data.name}: top-1 {result.top1:.2%}"
        )
        publish_dir(tmp, out)
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"{checkpoint}: top-1 {result.top1:.4f}, top-{result.top5_k} {result.top5:.4f} on {result.n} images "
        f"({result.skipped} unreadable or oversized skipped), {result.images_per_s:.1f} img/s"
    )
    rows = [
        dict(
            cls=c, n=sum(result.confusion[i]), acc="-" if result.per_class[c] is None else f"{result.per_class[c]:.4f}"
        )
        for i, c in enumerate(result.classes)
    ]
    if len(rows) > MAX_TABLE_ROWS:  # ImageNet's 1,000 classes: the weakest ones say more than a 1,000-line table
        seen = [r for r in rows if r["acc"] != "-"]
        rows = sorted(seen, key=lambda r: (float(r["acc"]), -r["n"]))[:10]
        which = f"the {len(rows)} weakest of {len(seen)}" if len(seen) > len(rows) else f"the {len(seen)}"
        click.echo(f"{which} classes with images, of {len(result.classes)} (every class in metrics.json):")
    print_table(rows, [("cls", "class"), ("n", "images"), ("acc", "top-1")])
    click.echo(f"wrote {out}/metrics.json, confusion.csv, confusion.png")


MAX_TABLE_ROWS = 30


def _triple(param, value: str | None) -> tuple[float, float, float] | None:
    """``"0.5,0.5,0.5"`` → (0.5, 0.5, 0.5) for --mean/--std."""
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise click.BadParameter(f"{value!r}: give three comma-separated numbers, e.g. 0.485,0.456,0.406")
    return parts
