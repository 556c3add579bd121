"""Tiny generated image folders for the training tests (no ../shared needed), and the CIFAR-10 tier's."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import shapes_folder
from shared_data import cifar_subset


@pytest.fixture(autouse=True)
def _single_threaded(one_torch_thread):
    """Every training test runs on one torch thread (see ``one_torch_thread``)."""


@pytest.fixture(scope="session")
def three_classes(tmp_path_factory) -> Path:
    """3 classes × 20 generated images (``shapes_folder``), under CIFAR-10 class names."""
    return shapes_folder(tmp_path_factory.mktemp("three"), ("airplane", "cat", "ship"), 20)


@pytest.fixture(scope="session")
def two_classes(tmp_path_factory) -> Path:
    """2 classes × 12 generated images: the smallest set that still has a validation split."""
    return shapes_folder(tmp_path_factory.mktemp("two"), ("airplane", "cat"), 12, seed=1)


@pytest.fixture(scope="session")
def cifar_three_classes(tmp_path_factory) -> Path:
    """3 classes × 20 real CIFAR-10 training images (the real-data tier: mark the test shared_data("cifar10"))."""
    return cifar_subset(tmp_path_factory.mktemp("cifar_three"), "train", ("airplane", "cat", "ship"), 20)
