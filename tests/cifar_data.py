"""CIFAR-10 subsets for tests, copied to tmp: tests never write into ../shared.

One place for where the images live (``../shared`` beside the checkout, or ``EDGENET_CIFAR`` on a machine holding
only a copy, e.g. a GPU box) and for skipping cleanly where they are absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

BESIDE_CHECKOUT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10"
CIFAR = Path(os.environ.get("EDGENET_CIFAR", BESIDE_CHECKOUT))


def cifar_subset(dest: Path, split: str, classes: tuple[str, ...], n: int) -> Path:
    """The first ``n`` images (sorted; CIFAR's order is random) of each class in ``split``, copied into ``dest``."""
    src = CIFAR / split
    if not src.is_dir():
        pytest.skip(f"CIFAR-10 image folder not found at {src}")
    for c in classes:
        (dest / c).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / c).iterdir())[:n]:
            shutil.copy(f, dest / c / f.name)
    return dest
