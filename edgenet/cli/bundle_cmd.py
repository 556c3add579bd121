"""``edgenet bundle``: ship a .tflite to an app — metadata inside, labels, model card, Kotlin/Swift snippets."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import emit_json, json_option

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command(
    epilog="""Examples:

  edgenet bundle build/demo/model_int8.tflite --out build/app

  edgenet bundle model.tflite --checkpoint runs/best.pt --platform android --out app/

  edgenet bundle model.tflite --labels labels.txt --db results.sqlite --out app/ --json"""
)
@click.argument("model", type=_FILE)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--checkpoint", type=_FILE, help="edgenet checkpoint: preprocessing and class names.")
@click.option("--labels", "labels", type=_FILE, help="Class names, one per line (overrides the checkpoint's).")
@click.option("--platform", type=click.Choice(["android", "ios", "both"]), default="both", show_default=True)
@click.option("--db", type=_FILE, help="Results database (edgenet bench --db): latency/accuracy for the card.")
@click.option("--author", default="edgenet", show_default=True, help="Author recorded in the metadata.")
@click.option("--license", "license_", default="", help="License recorded in the metadata.")
@json_option
def bundle(
    model: Path,
    out: Path,
    checkpoint: Path | None,
    labels: Path | None,
    platform: str,
    db: Path | None,
    author: str,
    license_: str,
    as_json: bool,
) -> None:
    """Embed TFLite Metadata (image input, normalization, labels) and write what an app needs next to the model.

    Preprocessing and labels come from --checkpoint, or from the report.json/labels.txt that `edgenet convert`
    wrote next to MODEL; --labels overrides the class names.
    """
    from edgenet.workflows.bundle import bundle as run

    report = run(model, out, checkpoint, labels, platform, db, author, license_)
    if as_json:
        emit_json(report)
        return
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    i = report.input
    click.echo(f"{out}/: {', '.join(report.files)}")
    click.echo(
        f"input {i['dtype']} {i['shape']}, {report.labels} labels from {report.labels_from}, "
        f"preprocessing from {report.preprocess_from}"
    )
