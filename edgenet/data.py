"""Image folders for training and evaluation: ``DIR/<class>/<image>``, read through torchvision's ``ImageFolder``.

Two things matter beyond torchvision's defaults:

- An unreadable or truncated image is *skipped and counted*, never a crash in the middle of an epoch: the dataset
  returns a :class:`Skipped` marker and :func:`collate` drops it from the batch and reports its path.
- Evaluation preprocessing is :class:`~edgenet.preprocess.Preprocess` itself (the object stored in the checkpoint),
  so validation during training, ``edgenet eval`` and the converted TFLite/ONNX models all see the same pixels.

Training augmentation is seeded per (seed, epoch, image), so an image's crop does not depend on which worker
loaded it or whether the run was interrupted and resumed: ``--resume`` continues on the same random stream.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms as T
from torchvision.datasets import ImageFolder

from edgenet.errors import EdgenetError
from edgenet.imagefiles import IMAGE_SUFFIXES, list_image_files
from edgenet.imagenet import folder_aliases
from edgenet.preprocess import Preprocess

AUGMENTS = ("randaugment", "autoaugment", "none")
# What PIL raises on a broken file: truncated data (OSError), unknown format (UnidentifiedImageError is an
# OSError), corrupt headers (SyntaxError, ValueError), decompression bombs.
_BAD_IMAGE = (OSError, SyntaxError, ValueError, EOFError)


class Skipped(NamedTuple):
    """Stands in for an image that could not be read; :func:`collate` drops it and counts it."""

    path: str
    reason: str


class Batch(NamedTuple):
    x: torch.Tensor | None  # None when every image of the batch was unreadable
    y: torch.Tensor
    skipped: list[str]  # paths of the unreadable images of this batch


def seed_for(*keys: int) -> int:
    """A 63-bit seed that is a pure function of ``keys`` (seed, epoch, step or index, rank)."""
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]).generate_state(2, np.uint64)[0] >> 1)


class SafeImageFolder(ImageFolder):
    """``ImageFolder`` that turns unreadable images into :class:`Skipped` and, when ``seed`` is set, seeds each
    image's random augmentation from (seed, epoch, index) so it is reproducible across workers and resumes.

    ``classes`` fixes the label order (a checkpoint's); folders missing from ``root`` are allowed (evaluation on a
    subset), a folder not in ``classes`` is an error.
    """

    def __init__(self, root: str | Path, transform, classes: Sequence[str] | None = None, seed: int | None = None):
        self._given_classes = list(classes) if classes is not None else None
        self._aliases = folder_aliases(self._given_classes)  # ImageNet's WordNet-ID folders for its class names
        root = Path(root)
        folder_classes = scan_class_folders(root)
        if self._given_classes is not None:
            unknown = sorted(set(folder_classes) - set(self._given_classes) - set(self._aliases))
            if unknown:
                raise EdgenetError(
                    f"{root}: class folder(s) {unknown[:5]} are not among the model's {len(self._given_classes)} "
                    f"classes ({', '.join(self._given_classes[:10])}{', …' if len(self._given_classes) > 10 else ''})"
                )
        super().__init__(str(root), transform=transform, loader=_load_rgb, allow_empty=True)
        self._listing.warn()
        self.skipped_folders = self._listing.skipped_folders  # the file list itself is self.samples
        del self._listing
        counts = Counter(self.targets)
        empty = [c for c in folder_classes if counts[self.class_to_idx[c]] == 0]
        if empty:
            raise EdgenetError(
                f"{root}: class folder(s) {empty[:5]} hold no images ({', '.join(IMAGE_SUFFIXES[:4])}, …); "
                "add images or remove the folder"
            )
        self.seed, self.epoch = seed, 0

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        classes = self._given_classes or scan_class_folders(Path(directory))
        to_idx = {c: i for i, c in enumerate(classes)}
        return classes, {**to_idx, **{a: to_idx[c] for a, c in self._aliases.items()}}

    def make_dataset(self, directory: str, class_to_idx: dict[str, int], *args, **kwargs) -> list[tuple[str, int]]:
        """torchvision walks with ``followlinks=True`` and no memory of where it has been, so one link loop
        repeats the dataset; :func:`~edgenet.imagefiles.list_image_files` enters every folder once."""
        self._listing = list_image_files(directory)
        samples = []
        for path in self._listing.files:
            parts = path.relative_to(directory).parts
            if len(parts) > 1 and parts[0] in class_to_idx:  # files beside the class folders belong to no class
                samples.append((str(path), class_to_idx[parts[0]]))
        return samples

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        try:
            image = self.loader(path)  # decodes every pixel: a truncated file fails here, not in the transform
        except _BAD_IMAGE as e:
            return Skipped(path, f"{type(e).__name__}: {e}")
        if self.seed is None:
            return self.transform(image), target
        with torch.random.fork_rng(devices=[]):  # leave the caller's stream untouched when workers=0
            torch.manual_seed(seed_for(self.seed, self.epoch, index))
            return self.transform(image), target


_READER = Preprocess(resolution=32)  # only its load_rgb (EXIF, grayscale, RGBA, CMYK, 16-bit → RGB) is used here


def _load_rgb(path: str):
    return _READER.load_rgb(path)


def scan_class_folders(root: Path) -> list[str]:
    """Sorted class folder names of ``root``; a missing folder or one without class folders is a clear error."""
    if root.exists() and not root.is_dir():
        raise EdgenetError(f"{root}: is a file, not a folder; expected DIR/<class>/<image files>")
    if not root.is_dir():
        raise EdgenetError(f"{root}: image folder not found; expected DIR/<class>/<image files>")
    top = root.resolve()
    classes = sorted(
        e.name
        for e in os.scandir(root)
        if e.is_dir()
        and not e.name.startswith(".")
        and not (e.is_symlink() and top.is_relative_to(Path(e.path).resolve()))  # a loop, never a class
    )
    if not classes:
        raise EdgenetError(f"{root}: no class folders; expected DIR/<class>/<image files>, one folder per class")
    return classes


def collate(items: list) -> Batch:
    """Stack the readable images of a batch; report the unreadable ones by path."""
    good = [it for it in items if not isinstance(it, Skipped)]
    skipped = [it.path for it in items if isinstance(it, Skipped)]
    x = torch.stack([it[0] for it in good]) if good else None
    return Batch(x, torch.tensor([it[1] for it in good], dtype=torch.long), skipped)


class EvalTransform:
    """The deployment preprocessing (:class:`Preprocess`), as a tensor: what convert and eval will feed the model."""

    def __init__(self, pre: Preprocess) -> None:
        self.pre = pre

    def __call__(self, im) -> torch.Tensor:
        return torch.from_numpy(self.pre.to_array(im, "NCHW"))


def train_transform(pre: Preprocess, augment: str = "randaugment", min_crop: float = 0.08) -> T.Compose:
    """Inception-style random crop, flip, RandAugment/AutoAugment, normalise with the checkpoint's mean/std."""
    if augment not in AUGMENTS:
        raise EdgenetError(f"unknown augmentation {augment!r}; choose from {', '.join(AUGMENTS)}")
    interp = T.InterpolationMode(pre.interpolation)
    steps = [T.RandomResizedCrop(pre.resolution, scale=(min_crop, 1.0), interpolation=interp), T.RandomHorizontalFlip()]
    if augment == "randaugment":
        steps.append(T.RandAugment(num_ops=2, magnitude=9, interpolation=interp))
    elif augment == "autoaugment":
        steps.append(T.AutoAugment(T.AutoAugmentPolicy.IMAGENET, interpolation=interp))
    return T.Compose([*steps, T.PILToTensor(), T.ConvertImageDtype(torch.float32), T.Normalize(pre.mean, pre.std)])


@dataclass
class TrainData:
    train: Dataset
    val: Dataset | None
    classes: list[str]
    n_train: int
    n_val: int
    train_plain: Dataset | None = None  # the training images with deployment preprocessing (BN re-estimation)


def split_indices(targets: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A stratified, seeded split: ``fraction`` of each class (at least one image of classes with two or more)."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    train, val = [], []
    for t in sorted(by_class):
        idx = rng.permutation(by_class[t]).tolist()
        k = min(len(idx) - 1, max(1, round(len(idx) * fraction))) if len(idx) > 1 else 0
        val += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(val)


def build_train_data(
    data: str | Path,
    pre: Preprocess,
    val: str | Path | None = None,
    val_split: float = 0.1,
    augment: str = "randaugment",
    min_crop: float = 0.08,
    seed: int = 0,
) -> TrainData:
    """Training set (augmented) and validation set (deployment preprocessing) from folders or a seeded split."""
    if not 0.0 <= val_split < 1.0:
        raise EdgenetError(f"--val-split {val_split}: must be in [0, 1)")
    train = SafeImageFolder(data, train_transform(pre, augment, min_crop), seed=seed)
    if len(train.classes) < 2:
        raise EdgenetError(f"{data}: only one class folder ({train.classes[0]}); a classifier needs at least two")
    if val is not None:
        val_classes = scan_class_folders(Path(val))
        if val_classes != train.classes:
            missing = sorted(set(train.classes) - set(val_classes))
            extra = sorted(set(val_classes) - set(train.classes))
            raise EdgenetError(
                f"{val}: class folders differ from {data}'s (missing {missing[:5]}, extra {extra[:5]}); "
                "training and validation need the same class folders"
            )
        val_ds = SafeImageFolder(val, EvalTransform(pre), classes=train.classes)
        plain = SafeImageFolder(data, EvalTransform(pre), classes=train.classes)
        return TrainData(train, val_ds, train.classes, len(train), len(val_ds), plain)
    plain = SafeImageFolder(data, EvalTransform(pre), classes=train.classes)
    if val_split == 0:
        return TrainData(train, None, train.classes, len(train), 0, plain)
    tr_idx, va_idx = split_indices(train.targets, val_split, seed)
    return TrainData(
        Subset(train, tr_idx), Subset(plain, va_idx), train.classes, len(tr_idx), len(va_idx), Subset(plain, tr_idx)
    )


def eval_loader(dataset: Dataset, batch_size: int, workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """Batches in file order (no shuffling), unreadable images dropped by :func:`collate`."""
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate, pin_memory=pin_memory
    )


def numpy_batches(loader: DataLoader) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """``(NCHW float32 batch, labels, n_skipped)`` — the form :func:`edgenet.evaluate.evaluate` takes."""
    for b in loader:
        x = b.x.numpy() if b.x is not None else np.zeros((0, 3, 1, 1), np.float32)
        yield x, b.y.numpy(), len(b.skipped)


def eval_batches(
    data: str | Path, pre: Preprocess, classes: Sequence[str] | None = None, batch_size: int = 64, workers: int = 0
) -> tuple[Iterator[tuple[np.ndarray, np.ndarray, int]], SafeImageFolder]:
    """An image folder preprocessed exactly as deployed, labelled in ``classes`` order (a checkpoint's).

    Reused by evaluation of converted models (.tflite/.onnx): only ``predict`` changes.
    """
    ds = SafeImageFolder(data, EvalTransform(pre), classes=classes)
    return numpy_batches(eval_loader(ds, batch_size, workers)), ds
