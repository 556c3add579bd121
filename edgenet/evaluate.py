"""Classification metrics for any backend: PyTorch here, TFLite/ONNX artefacts elsewhere.

:func:`evaluate` knows nothing about the model: it takes batches (NCHW float32 numpy, labels) and a
``predict(batch) -> logits`` callable, so a converted ``.tflite`` is scored by exactly the same code, on exactly
the same preprocessed pixels, as the PyTorch checkpoint it came from. Results are counts (a confusion matrix and
top-k hits) from which every number is derived, so shards from several processes add up exactly.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgenet.atomic import atomic_path

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class EvalResult:
    """top-1/top-k accuracy, per-class accuracy, confusion matrix (rows: true class, columns: predicted), speed."""

    n: int
    top1: float
    top5: float
    top5_k: int  # k actually used: min(5, number of classes)
    per_class: dict[str, float | None]  # None for a class without images in the data
    confusion: list[list[int]]
    classes: list[str]
    images_per_s: float  # images / seconds spent inside predict (data loading excluded)
    predict_s: float
    wall_s: float
    skipped: int  # unreadable images, counted and left out of every metric
    top5_hits: int = field(default=0, repr=False)

    @classmethod
    def from_counts(
        cls,
        confusion: np.ndarray,
        top5_hits: int,
        classes: Sequence[str],
        predict_s: float = 0.0,
        wall_s: float = 0.0,
        skipped: int = 0,
    ) -> EvalResult:
        """Derive every metric from raw counts (e.g. after summing them across processes)."""
        cm = np.asarray(confusion, dtype=np.int64)
        n = int(cm.sum())
        rows = cm.sum(1)
        per_class = {c: (float(cm[i, i] / rows[i]) if rows[i] else None) for i, c in enumerate(classes)}
        return cls(
            n=n,
            top1=float(np.trace(cm) / n) if n else 0.0,
            top5=float(top5_hits / n) if n else 0.0,
            top5_k=min(5, len(classes)),
            per_class=per_class,
            confusion=cm.tolist(),
            classes=list(classes),
            images_per_s=n / predict_s if predict_s > 0 else 0.0,
            predict_s=predict_s,
            wall_s=wall_s,
            skipped=int(skipped),
            top5_hits=int(top5_hits),
        )


class EvalCounter:
    """Accumulates a confusion matrix and top-k hits batch by batch."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.k = min(5, num_classes)
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        self.top5_hits = 0

    def update(self, logits: np.ndarray, labels: np.ndarray) -> None:
        logits, labels = np.asarray(logits, np.float32), np.asarray(labels, np.int64)
        if logits.ndim != 2 or logits.shape[1] != self.num_classes or len(logits) != len(labels):
            raise ValueError(f"predict returned shape {logits.shape}; expected ({len(labels)}, {self.num_classes})")
        np.add.at(self.confusion, (labels, logits.argmax(1)), 1)
        topk = np.argpartition(-logits, self.k - 1, axis=1)[:, : self.k]
        self.top5_hits += int((topk == labels[:, None]).any(1).sum())


def evaluate(
    batches: Iterable[tuple],
    predict: Predict,
    classes: Sequence[str],
    progress: bool = False,
    total: int | None = None,
) -> EvalResult:
    """Score ``predict`` on ``batches`` of ``(x, labels)`` or ``(x, labels, n_skipped)``.

    ``x`` is the preprocessed batch (NCHW float32, as :class:`edgenet.preprocess.Preprocess` makes it) and labels
    index ``classes``. ``predict`` returns logits (or probabilities) of shape ``(N, len(classes))``.
    """
    from tqdm import tqdm

    counter = EvalCounter(len(classes))
    skipped, predict_s = 0, 0.0
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="eval", unit="img", disable=not progress, leave=False, dynamic_ncols=True)
    for item in batches:
        x, y = item[0], item[1]
        skipped += int(item[2]) if len(item) > 2 else 0
        if len(y) == 0:
            continue
        t = time.perf_counter()
        logits = predict(x)
        predict_s += time.perf_counter() - t
        counter.update(logits, y)
        bar.update(len(y) + (int(item[2]) if len(item) > 2 else 0))
    bar.close()
    return EvalResult.from_counts(
        counter.confusion, counter.top5_hits, classes, predict_s, time.perf_counter() - t0, skipped
    )


def torch_predict(model, device: str = "cpu", amp: bool = False, channels_last: bool = False) -> Predict:
    """``predict`` for a PyTorch module (put in eval mode here): numpy NCHW in, numpy logits out."""
    import torch

    model.eval()
    dev = torch.device(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    @torch.inference_mode()
    def predict(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x)).to(dev, non_blocking=True).contiguous(memory_format=fmt)
        with torch.autocast(dev.type, enabled=amp and dev.type == "cuda"):
            return model(t).float().cpu().numpy()

    return predict


def write_confusion_csv(result: EvalResult, path: str | Path) -> Path:
    """Confusion matrix as CSV: a header row of predicted classes, one row per true class (atomic write)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *result.classes])
        for c, row in zip(result.classes, result.confusion):
            w.writerow([c, *row])
    return path


def write_confusion_png(result: EvalResult, path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix as a PNG (counts written in the cells when there are few classes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(result.confusion, np.float64)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    n = len(result.classes)
    size = min(4 + 0.35 * n, 24)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if n <= 60:
        ax.set_xticks(range(n), result.classes, rotation=90, fontsize=8)
        ax.set_yticks(range(n), result.classes, fontsize=8)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    color = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"top-1 {result.top1:.2%} on {result.n} images")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path,
    batch_size: int = 64,
    workers: int = 2,
    device: str = "auto",
    progress: bool = False,
) -> EvalResult:
    """Score an edgenet checkpoint on an image folder, with the checkpoint's own preprocessing and class order."""
    from edgenet.checkpoint import load_checkpoint
    from edgenet.data import eval_batches, scan_class_folders
    from edgenet.devices import pick_device
    from edgenet.errors import EdgenetError

    ckpt = load_checkpoint(checkpoint)
    classes = ckpt.classes
    if classes is None:  # imported weights without names: the folders, in sorted order, must be the outputs
        classes = scan_class_folders(Path(data))
        if len(classes) != ckpt.num_classes:
            raise EdgenetError(
                f"{checkpoint}: holds no class names and {data} has {len(classes)} class folders for "
                f"{ckpt.num_classes} outputs; add names with `edgenet import-weights --classes-file`"
            )
    dev = pick_device(device)
    batches, ds = eval_batches(data, ckpt.preprocess, classes, batch_size, workers)
    predict = torch_predict(ckpt.build().to(dev), str(dev), amp=dev.type == "cuda", channels_last=dev.type == "cuda")
    return evaluate(batches, predict, classes, progress=progress, total=len(ds))
