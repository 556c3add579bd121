"""The real-data tier: tests on ``../shared/data`` (CIFAR-10, the ImageNet sample), copied to tmp.

The core suite needs none of it (tests make their data: :func:`helpers.shapes_folder`, tests/photos.py). A test
that adds something only real data can give is marked ``@pytest.mark.shared_data("cifar10")`` (or
``"imagenet-sample"``); where that data is absent it is deselected, with one line in the summary, never skipped:
a skip on a fresh clone would read as a missing tool. ``EDGENET_CIFAR`` / ``EDGENET_IMAGENET_SAMPLE`` point at a
copy elsewhere (e.g. on a GPU box).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CIFAR = Path(os.environ.get("EDGENET_CIFAR", SHARED / "cifar10"))
IMAGENET_SAMPLE = Path(os.environ.get("EDGENET_IMAGENET_SAMPLE", SHARED / "imagenet-sample"))
DATASETS = {
    "cifar10": (CIFAR / "train", "EDGENET_CIFAR"),
    "imagenet-sample": (IMAGENET_SAMPLE, "EDGENET_IMAGENET_SAMPLE"),
}


def missing(name: str) -> str | None:
    """Why dataset ``name`` cannot be used here, or None when it is present."""
    path, variable = DATASETS[name]
    return None if path.is_dir() else f"{name} not found at {path} (set {variable})"


def cifar_subset(dest: Path, split: str, classes: tuple[str, ...], n: int) -> Path:
    """The first ``n`` images (sorted; CIFAR's order is random) of each class in ``split``, copied into ``dest``."""
    src = CIFAR / split
    if not src.is_dir():  # only reached by a shared_data test run by node id where the data is absent
        pytest.fail(f"CIFAR-10 image folder not found at {src}; set EDGENET_CIFAR")
    for c in classes:
        (dest / c).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / c).iterdir())[:n]:
            shutil.copy(f, dest / c / f.name)
    return dest
