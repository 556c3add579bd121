"""Tiny CIFAR-10 image folders for the training tests (copied to tmp: tests never write into ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cifar_data import cifar_subset


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
