"""Top-1/top-5 on a labeled image folder (``DIR/<class>/<image>``) through the benchmarked backend itself.

Images are preprocessed here, with the preprocessing the model was converted with (``report.json`` beside a
.tflite/.onnx, or the checkpoint's own), into one .npy in the model's input type; the runner, local or on a board,
only feeds it and returns top-k indices. Labels come from ``labels.txt`` beside the model (or the checkpoint), so
a folder's classes are matched to the model's outputs by name, not by sort order."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from edgenet.device_bench.modelinfo import ModelInfo

from edgenet.errors import EdgenetError
from edgenet.imagefiles import IMAGE_SUFFIXES, list_image_files
from edgenet.imagenet import folder_aliases
from edgenet.preprocess import Preprocess

log = logging.getLogger("edgenet")


@dataclass
class EvalInputs:
    """A labelled folder as the file a runner is sent (locally or to a board): preprocessed rows in the model's
    input type. In-process scoring uses :class:`edgenet.artifacts.scoring.EvalSet`; this is its shippable form."""

    inputs: Path  # .npy, one preprocessed sample per row, in the model's input type
    targets: np.ndarray  # class index per row
    skipped: int  # unreadable images, and images refused as too large


def resolve_preprocess(
    info: ModelInfo, mean: tuple | None = None, std: tuple | None = None, img_size: int | None = None
) -> Preprocess:
    """The model's own preprocessing; explicit --mean/--std/--img-size override it (all three needed without one)."""
    pre = info.preprocess
    if pre is None:
        if mean is None or std is None or img_size is None:
            raise EdgenetError(
                f"{info.path}: no report.json with preprocessing beside it; pass --mean, --std and --img-size "
                "(e.g. --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --img-size 224)"
            )
        pre = Preprocess(resolution=img_size)
    pre = replace(pre, **{k: v for k, v in (("mean", mean), ("std", std), ("resolution", img_size)) if v is not None})
    if info.resolution and pre.resolution != info.resolution:
        raise EdgenetError(f"{info.path}: takes {info.resolution} px inputs but preprocessing says {pre.resolution}")
    return pre


def list_labeled_images(root: Path, labels: list[str] | None, num_outputs: int | None, limit: int | None = None):
    """(path, class index) pairs in a deterministic order; with ``limit``, a class-balanced prefix."""
    if not root.is_dir():
        raise EdgenetError(f"--eval-data {root}: folder not found")
    listing = list_image_files(root)
    listing.warn()
    by_class: dict[str, list[Path]] = {}
    for p in listing.files:
        if len(parts := p.relative_to(root).parts) > 1:
            by_class.setdefault(parts[0], []).append(p)
    classes = sorted(by_class)
    if not classes:
        raise EdgenetError(
            f"--eval-data {root}: no class folders with images (expected DIR/<class>/<image>: "
            f"{', '.join(s.lstrip('.') for s in IMAGE_SUFFIXES[:5])}, …)"
        )
    if labels is None:
        if num_outputs and len(classes) != num_outputs:
            raise EdgenetError(
                f"--eval-data {root}: {len(classes)} class folders but the model has {num_outputs} outputs, and no "
                "labels.txt beside it says which output is which class"
            )
        log.warning(f"no labels.txt beside the model; assuming its outputs are the sorted folder names of {root}")
        labels = classes
    index = {name: i for i, name in enumerate(labels)}
    index |= {wnid: index[name] for wnid, name in folder_aliases(labels).items()}  # ImageNet's WordNet-ID folders
    unknown = [c for c in classes if c not in index]
    if unknown:
        raise EdgenetError(f"--eval-data {root}: classes {', '.join(unknown[:5])} are not among the model's labels")
    per_class = [[(p, index[c]) for p in by_class[c]] for c in classes]
    items = [x for group in _round_robin(per_class) for x in group]
    return items[:limit] if limit else items


def _round_robin(groups: list[list]) -> list[list]:
    """Interleave classes so that any prefix is balanced: [[a0, b0], [a1, b1], ...]."""
    depth = max(len(g) for g in groups)
    return [[g[i] for g in groups if i < len(g)] for i in range(depth)]


def build_eval_set(
    items: list[tuple[Path, int]],
    pre: Preprocess,
    layout: str,
    convert: Callable[[np.ndarray], np.ndarray],
    out: Path,
    progress: bool = True,
) -> EvalInputs:
    """Preprocess every image into ``out`` (a memory-mapped .npy, so large sets never sit in RAM)."""
    from tqdm import tqdm

    mm, targets, skipped = None, [], []
    partial = out.with_name(out.name + ".partial.npy")
    for path, label in tqdm(
        items, desc="eval images", unit="img", file=sys.stderr, disable=not progress, mininterval=1
    ):
        try:
            x = pre.to_array(pre.load_rgb(path), layout="NCHW" if layout == "NCHW" else "NHWC")
        except (OSError, ValueError, SyntaxError) as e:  # unreadable, or refused as too large (ImageRefused)
            skipped.append(f"{path} ({type(e).__name__})")
            continue
        row = convert(x[None])[0]
        if mm is None:
            mm = np.lib.format.open_memmap(partial, mode="w+", dtype=row.dtype, shape=(len(items), *row.shape))
        mm[len(targets)] = row
        targets.append(label)
    if skipped:
        log.warning(
            f"--eval-data: skipped {len(skipped)} of {len(items)} image(s), unreadable or too large: "
            f"{', '.join(skipped[:3])}{', …' if len(skipped) > 3 else ''}"
        )
    if mm is None:
        raise EdgenetError(f"--eval-data: none of the {len(items)} images could be read")
    final = np.lib.format.open_memmap(out, mode="w+", dtype=mm.dtype, shape=(len(targets), *mm.shape[1:]))
    for start in range(0, len(targets), 256):
        final[start : start + 256] = mm[start : min(start + 256, len(targets))]
    final.flush()
    del mm, final
    partial.unlink()
    return EvalInputs(out, np.asarray(targets), len(skipped))


def accuracy(predictions: list[list[int]], targets: np.ndarray) -> tuple[float, float]:
    """(top-1, top-5) in percent."""
    top1 = sum(int(p[0] == t) for p, t in zip(predictions, targets))
    top5 = sum(int(t in p[:5]) for p, t in zip(predictions, targets))
    n = max(len(targets), 1)
    return 100.0 * top1 / n, 100.0 * top5 / n
