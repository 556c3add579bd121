"""Tiny CIFAR-10 image folders for the training tests (copied to tmp: tests never write into ../shared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cifar_data import cifar_subset

# Small enough for a busy 2-core box: lite0 at 32 px, 4 images a step, no worker processes.
FAST = dict(model="lite0", img_size=32, batch_size=4, workers=0, progress=False)


@pytest.fixture(autouse=True)
def _single_threaded(one_torch_thread):
    """Every training test runs on one torch thread (see ``one_torch_thread``)."""


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory) -> Path:
    """3 classes × 20 CIFAR-10 training images."""
    return cifar_subset(tmp_path_factory.mktemp("three"), "train", ("airplane", "cat", "ship"), 20)


@pytest.fixture(scope="session")
def two_classes(tmp_path_factory) -> Path:
    """2 classes × 12 images: the smallest set that still has a validation split."""
    return cifar_subset(tmp_path_factory.mktemp("two"), "train", ("airplane", "cat"), 12)


def corrupt_copy(src: Path, dest: Path) -> tuple[Path, list[Path]]:
    """A copy of ``src`` with one truncated JPEG and one file that is no image at all."""
    shutil.copytree(src, dest)
    first = sorted((dest / sorted(p.name for p in dest.iterdir())[0]).iterdir())
    truncated, garbage = first[0], first[1]
    truncated.write_bytes(truncated.read_bytes()[:200])
    garbage.write_bytes(b"this is not a jpeg")
    return dest, [truncated, garbage]
