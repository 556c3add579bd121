"""One folder walk for every reader: a symlink loop or a duplicate link never counts an image twice (issue 13.1)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from edgenet.device_bench.evaldata import list_labeled_images
from edgenet.quantization.calibration import from_folder, list_images
from PIL import Image

from edgenet.data import build_train_data, eval_batches, scan_class_folders
from edgenet.imagefiles import list_image_files
from edgenet.preprocess import Preprocess

PRE = Preprocess(resolution=32)


def _folder(root: Path, classes=("cat", "dog"), n: int = 5) -> Path:
    for c, colour in zip(classes, ((200, 40, 40), (40, 40, 200), (40, 200, 40))):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (40, 40), colour).save(root / c / f"{i}.png")
    return root


@pytest.fixture
def looped(tmp_path) -> Path:
    """2 classes × 5 images and ``ln -s .. data/cat/up``: torchvision's walk saw 410 images here."""
    data = _folder(tmp_path / "data")
    os.symlink("..", data / "cat" / "up")
    return data


def test_walker_enters_no_folder_twice(looped, caplog):
    listing = list_image_files(looped)
    assert len(listing.files) == 10
    assert listing.skipped_folders == [(looped / "cat" / "up", "links to the data folder or above it")]
    listing.warn()
    assert "skipped 1 folder(s)" in caplog.text  # through the edgenet logger; the CLI prints it


def test_every_reader_sees_ten_images(looped, caplog):
    """eval / convert --eval-data / quant-report --eval-data (eval_batches), train, calibration, bench --eval-data."""
    batches, ds = eval_batches(looped, PRE, batch_size=64)
    assert len(ds) == 10 and sum(len(y) for _, y, _ in batches) == 10
    assert ds.classes == ["cat", "dog"]
    train = build_train_data(looped, PRE, val_split=0.2, augment="none")
    assert train.n_train + train.n_val == 10
    assert len(list_images(looped)) == 10
    assert from_folder(looped, PRE, n=100).samples.shape[0] == 10
    assert len(list_labeled_images(looped, ["cat", "dog"], 2)) == 10
    err = caplog.text
    assert err.count("cat/up (links to the data folder or above it)") == 1, err  # said once, not per reader


def test_a_top_level_loop_is_not_a_class(looped):
    os.symlink(".", looped / "again")
    assert scan_class_folders(looped) == ["cat", "dog"]
    _, ds = eval_batches(looped, PRE)
    assert len(ds) == 10


def test_duplicate_links_are_read_once_under_their_real_path(tmp_path):
    data = _folder(tmp_path / "data")
    os.symlink("../dog", data / "cat" / "also_dog")  # sorts before the real dog/ but must not take its images
    os.symlink("../../data", data / "dog" / "root_again")
    listing = list_image_files(data)
    assert [p.relative_to(data).parts[0] for p in listing.files] == ["cat"] * 5 + ["dog"] * 5
    assert {why for _, why in listing.skipped_folders} == {
        "a folder already read",
        "links to the data folder or above it",
    }


def test_linked_class_folders_from_elsewhere_are_followed(tmp_path):
    """The usual way to build a subset of a big dataset: class folders linked from it."""
    big = _folder(tmp_path / "big", classes=("cat", "dog", "eel"), n=3)
    subset = tmp_path / "subset"
    subset.mkdir()
    for c in ("cat", "eel"):
        os.symlink(big / c, subset / c)
    os.symlink(big / "dog", subset / "eel" / "dog")  # a link inside a linked folder: still its own folder, once
    os.symlink("/nonexistent", subset / "cat" / "dangling")  # neither a folder nor an image
    os.symlink("self", subset / "cat" / "self")
    listing = list_image_files(subset)
    assert len(listing.files) == 9 and listing.skipped_folders == []
    labels = dict(list_labeled_images(subset, ["cat", "eel"], 2))
    assert sorted(np.bincount(list(labels.values()))) == [3, 6]


def test_hidden_files_are_not_images(tmp_path):
    data = _folder(tmp_path / "data", n=2)
    (data / "cat" / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS metadata beside a copy
    (data / "cat" / ".cache").mkdir()
    Image.new("RGB", (8, 8)).save(data / "cat" / ".cache" / "x.png")
    assert len(list_image_files(data).files) == 4
