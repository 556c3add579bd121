"""Image folders: unreadable images skipped and counted, class-set checks, the split, deployment preprocessing."""

import numpy as np
import pytest
import torch
from train_helpers import corrupt_copy

from edgenet.data import (
    EvalTransform,
    SafeImageFolder,
    Skipped,
    build_train_data,
    collate,
    eval_batches,
    split_indices,
)
from edgenet.errors import EdgenetError
from edgenet.preprocess import Preprocess

PRE = Preprocess(resolution=32)


def test_unreadable_images_are_skipped_and_counted(three_classes, tmp_path):
    data, bad = corrupt_copy(three_classes, tmp_path / "bad")
    ds = SafeImageFolder(data, EvalTransform(PRE))
    items = [ds[i] for i in range(len(ds))]
    skipped = [it for it in items if isinstance(it, Skipped)]
    assert sorted(s.path for s in skipped) == sorted(str(p) for p in bad)
    batch = collate(items[:8])
    assert batch.x.shape == (6, 3, 32, 32) and batch.y.tolist() == [0] * 6
    assert sorted(batch.skipped) == sorted(str(p) for p in bad)
    batches, _ = eval_batches(data, PRE, batch_size=16)
    assert sum(n for _, _, n in batches) == 2


def test_batch_of_only_unreadable_images(tmp_path):
    batch = collate([Skipped("a.jpg", "OSError"), Skipped("b.jpg", "OSError")])
    assert batch.x is None and batch.y.numel() == 0 and batch.skipped == ["a.jpg", "b.jpg"]


def test_eval_transform_is_the_deployment_preprocessing(three_classes):
    """Validation during training sees exactly the pixels that convert/eval of the deployed model will see."""
    pre = Preprocess(resolution=40, crop_pct=0.875, interpolation="bilinear")
    ds = SafeImageFolder(three_classes, EvalTransform(pre))
    x, _ = ds[3]
    np.testing.assert_array_equal(x.numpy(), pre(ds.samples[3][0]))


def test_train_augmentation_is_seeded_per_image_and_epoch(three_classes):
    data = build_train_data(three_classes, PRE, val_split=0.0, seed=5)
    ds = data.train
    a, b = ds[7][0], ds[7][0]
    torch.testing.assert_close(a, b)  # same (seed, epoch, index): same crop, whatever the global RNG did meanwhile
    ds.epoch = 1
    assert not torch.equal(a, ds[7][0])


def test_empty_class_folder_is_an_error(three_classes, tmp_path):
    import shutil

    data = tmp_path / "d"
    shutil.copytree(three_classes, data)
    (data / "dog").mkdir()
    with pytest.raises(EdgenetError, match=r"'dog'\] hold no images"):
        build_train_data(data, PRE)


def test_missing_or_flat_folder_is_an_error(tmp_path):
    with pytest.raises(EdgenetError, match="image folder not found"):
        build_train_data(tmp_path / "nope", PRE)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.jpg").write_bytes(b"")
    with pytest.raises(EdgenetError, match="no class folders"):
        build_train_data(tmp_path / "flat", PRE)


def test_train_and_val_with_different_classes(three_classes, tmp_path):
    import shutil

    val = tmp_path / "val"
    shutil.copytree(three_classes, val)
    shutil.rmtree(val / "ship")
    (val / "truck").mkdir()
    shutil.copy(next((three_classes / "cat").iterdir()), val / "truck" / "x.jpg")
    with pytest.raises(EdgenetError, match=r"missing \['ship'\], extra \['truck'\]"):
        build_train_data(three_classes, PRE, val=val)


def test_eval_folder_with_a_class_the_model_lacks(three_classes):
    with pytest.raises(EdgenetError, match=r"\['ship'\] are not among the model's 2 classes"):
        SafeImageFolder(three_classes, EvalTransform(PRE), classes=["airplane", "cat"])


def test_eval_labels_follow_the_checkpoint_order(three_classes):
    order = ["ship", "dog", "airplane", "cat"]  # a model class ("dog") may have no folder
    ds = SafeImageFolder(three_classes, EvalTransform(PRE), classes=order)
    for path, label in ds.samples:
        assert f"/{order[label]}/" in path


def test_split_is_stratified_seeded_and_disjoint():
    targets = [0] * 10 + [1] * 20 + [2] * 1
    tr, va = split_indices(targets, 0.2, seed=3)
    assert sorted(tr + va) == list(range(31)) and not set(tr) & set(va)
    assert [sum(targets[i] == c for i in va) for c in range(3)] == [2, 4, 0]
    assert split_indices(targets, 0.2, seed=3) == (tr, va)
    assert split_indices(targets, 0.2, seed=4) != (tr, va)
    with pytest.raises(EdgenetError, match="--val-split"):
        build_train_data(".", PRE, val_split=1.0)
