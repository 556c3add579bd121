"""Metrics on answers known in advance, the writers, and a checkpoint scored through the real data path."""

import csv

import numpy as np
import pytest
import torch

from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
from edgenet.evaluate import EvalResult, evaluate, evaluate_checkpoint, write_confusion_csv, write_confusion_png
from edgenet.models import create_model

CLASSES = ["a", "b", "c", "d", "e", "f"]


def batches_and_oracle():
    """12 images; the "model" ranks classes by a table, so every metric is known by hand."""
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0])
    logits = np.tile(np.arange(6, 0, -1, dtype=np.float32), (12, 1))  # default ranking a > b > c > d > e > f
    logits[np.arange(12), labels] = 10  # right, except:
    logits[3] = [10, 5, 0, 0, 0, 0]  # image 3 (b): predicted a, b second: wrong, but in the top 5
    logits[11] = [0, 1, 2, 3, 4, 5]  # image 11 (a): ranked last: wrong, and not in the top 5
    xs = np.arange(12, dtype=np.float32).reshape(12, 1, 1, 1)
    batches = [(xs[:5], labels[:5]), (xs[5:], labels[5:], 2)]  # 2 unreadable images reported by the loader

    def predict(x):
        return logits[x.reshape(-1).astype(int)]

    return batches, predict


def test_known_answer():
    batches, predict = batches_and_oracle()
    r = evaluate(batches, predict, CLASSES)
    assert r.n == 12 and r.skipped == 2 and r.top5_k == 5
    assert r.top1 == pytest.approx(10 / 12)  # images 3 and 11 wrong
    assert r.top5 == pytest.approx(11 / 12)  # only image 11 misses the top 5
    assert r.per_class == {"a": pytest.approx(2 / 3), "b": 0.5, "c": 1.0, "d": 1.0, "e": 1.0, "f": 1.0}
    cm = np.array(r.confusion)
    assert cm[0, 0] == 2 and cm[0, 5] == 1 and cm[1, 0] == 1 and cm[1, 1] == 1 and cm.sum() == 12
    assert r.images_per_s > 0


def test_counts_from_shards_add_up():
    """What DDP validation does: sum the confusion matrices and hits of shards, rebuild the result."""
    batches, predict = batches_and_oracle()
    whole = evaluate(batches, predict, CLASSES)
    parts = [evaluate([b], predict, CLASSES) for b in batches]
    merged = EvalResult.from_counts(
        sum(np.array(p.confusion) for p in parts), sum(p.top5_hits for p in parts), CLASSES, skipped=2
    )
    assert (merged.top1, merged.top5, merged.per_class, merged.confusion) == (
        whole.top1,
        whole.top5,
        whole.per_class,
        whole.confusion,
    )


def test_class_without_images_and_fewer_than_five_classes():
    r = evaluate(
        [(np.zeros((2, 1)), np.array([0, 0]))], lambda x: np.array([[1.0, 0, 0], [0, 0, 1.0]]), ["x", "y", "z"]
    )
    assert r.top5_k == 3 and r.top5 == 1.0 and r.top1 == 0.5 and r.per_class == {"x": 0.5, "y": None, "z": None}


def test_wrong_logit_shape_is_reported():
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        evaluate([(np.zeros((2, 1)), np.array([0, 1]))], lambda x: np.zeros((2, 4)), ["x", "y", "z"])


def test_writers(tmp_path):
    batches, predict = batches_and_oracle()
    r = evaluate(batches, predict, CLASSES)
    rows = list(csv.reader(write_confusion_csv(r, tmp_path / "cm.csv").read_text().splitlines()))
    assert rows[0] == ["true \\ predicted", *CLASSES]
    assert [list(map(int, row[1:])) for row in rows[1:]] == r.confusion
    png = write_confusion_png(r, tmp_path / "cm.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.csv", "cm.png"]  # no temporary files left


def test_checkpoint_on_image_folder_matches_a_direct_forward(three_classes, tmp_path):
    """The known answer here is PyTorch itself: every image run through Preprocess and the model by hand."""
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    model = create_model("lite0", num_classes=4).eval()
    classes = ["ship", "truck", "cat", "airplane"]  # not folder order, and one class without a folder
    pre = Preprocess(resolution=32)
    ckpt = save_checkpoint(tmp_path / "m.pt", checkpoint_from_model(model, classes, pre))

    paths = sorted(three_classes.rglob("*.jpg"))
    with torch.no_grad():
        logits = model(torch.from_numpy(np.stack([pre(p) for p in paths]))).numpy()
    labels = np.array([classes.index(p.parent.name) for p in paths])
    expected_top1 = float((logits.argmax(1) == labels).mean())

    r = evaluate_checkpoint(ckpt, three_classes, batch_size=16, workers=0, device="cpu")
    assert r.n == len(paths) == 60
    assert r.top1 == pytest.approx(expected_top1)
    assert r.per_class["truck"] is None
    cm = np.zeros((4, 4), int)
    np.add.at(cm, (labels, logits.argmax(1)), 1)
    assert r.confusion == cm.tolist()
