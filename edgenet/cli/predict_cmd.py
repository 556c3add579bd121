"""``edgenet predict``: the top classes of a few images, from a .tflite, .onnx or checkpoint, as deployed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from edgenet.cli.options import emit_json, json_option

EPILOG = """Examples:

\b
  edgenet predict build/lite0/model_int8.tflite cat.jpg dog.jpg
  edgenet predict build/lite0/model.onnx photos/*.jpg --top-k 3
  edgenet predict runs/b0/best.pt cat.jpg --json

\b
The model's own preprocessing and class names are used: report.json and labels.txt beside a .tflite/.onnx
(written by convert; else pass --mean/--std/--img-size), or those stored in a checkpoint. Scores are the softmax
of the logits (outputs that already sum to 1 are shown as they are); k is at most the number of classes.
"""


@dataclass
class Prediction:
    image: str
    top_k: list[dict] = field(default_factory=list)  # {"index", "label", "score"}, best first


def _triple(ctx, param, value: str | None):
    from edgenet.cli.eval_cmd import _triple as parse

    return parse(param, value)


@click.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--top-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Classes per image.")
@click.option("--mean", callback=_triple, metavar="R,G,B", help="For a .tflite/.onnx without report.json.")
@click.option("--std", callback=_triple, metavar="R,G,B", help="For a .tflite/.onnx without report.json.")
@click.option("--img-size", type=click.IntRange(min=32), help="For a .tflite/.onnx without report.json.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads of the runtime [all].")
@json_option
def predict(
    model: Path,
    images: tuple[Path, ...],
    top_k: int,
    mean: tuple[float, float, float] | None,
    std: tuple[float, float, float] | None,
    img_size: int | None,
    threads: int | None,
    as_json: bool,
) -> None:
    """Top-k labels with scores for each IMAGE, using MODEL's own preprocessing and class names."""
    import numpy as np

    from edgenet.errors import EdgenetError

    runner, pre, labels = _load(model, mean, std, img_size, threads)
    x = _read(pre, images)
    logits = np.concatenate([runner(x[i : i + 1]) for i in range(len(x))]).astype(np.float64)
    if labels is not None and len(labels) != logits.shape[1]:
        raise EdgenetError(f"{model}: {len(labels)} class names beside it but {logits.shape[1]} outputs; convert again")
    probs = logits if _are_probabilities(logits) else _softmax(logits)
    k = min(top_k, probs.shape[1])
    results = []
    for path, p in zip(images, probs):
        best = np.argsort(-p, kind="stable")[:k]
        top = [
            {"index": int(i), "label": labels[i] if labels else f"class {i}", "score": round(float(p[i]), 6)}
            for i in best
        ]
        results.append(Prediction(str(path), top))
    if as_json:
        emit_json(results)
        return
    for r in results:
        click.echo(f"{r.image}: top-{k}")
        for t in r.top_k:
            click.echo(f"  {t['score']:7.2%}  {t['label']}")


def _load(model: Path, mean, std, img_size: int | None, threads: int | None):
    """(predict on an NCHW float batch, preprocessing, class names or None) for any model edgenet makes."""
    from edgenet.device_bench.modelinfo import sniff_format
    from edgenet.errors import EdgenetError

    fmt = sniff_format(model)  # from the bytes: a renamed file is still recognised
    if fmt == "checkpoint":
        if mean or std or img_size:
            raise EdgenetError(f"{model}: a checkpoint carries its own preprocessing; drop --mean/--std/--img-size")
        from edgenet.artifacts.runtime import TorchRunner
        from edgenet.loading import load_model

        loaded = load_model(checkpoint=model)
        return TorchRunner(loaded.model), loaded.preprocess, loaded.classes
    from edgenet.artifacts.scoring import load_artifact

    suffix = {"tflite": ".tflite", "onnx": ".onnx"}[fmt]
    if model.suffix != suffix:
        raise EdgenetError(f"{model}: holds a {fmt} model; give it the {suffix} suffix")
    return load_artifact(model, mean, std, img_size, threads)


def _read(pre, images: tuple[Path, ...]):
    """Every image preprocessed, or a one-line error naming the first that cannot be (before any inference)."""
    import numpy as np

    from edgenet.errors import EdgenetError

    arrays = []
    for p in images:
        if not p.is_file():
            raise EdgenetError(f"{p}: image not found")
        try:
            arrays.append(pre(p))
        except EdgenetError:  # ImageRefused: a decompression bomb, named with its size
            raise
        except (OSError, SyntaxError, ValueError) as e:  # what PIL raises on a broken or unknown file
            raise EdgenetError(
                f"{p}: not a readable image ({type(e).__name__}); pass a JPEG, PNG, BMP or WebP"
            ) from None
    return np.stack(arrays)


def _are_probabilities(x) -> bool:
    """Outputs of a model that ends in softmax: in [0, 1] and summing to 1 for every image."""
    import numpy as np

    return bool(((x >= 0) & (x <= 1)).all() and np.allclose(x.sum(1), 1.0, atol=1e-3))


def _softmax(x):
    import numpy as np

    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
