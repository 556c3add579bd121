"""``edgenet.api`` exactly as the README's "From Python" section uses it: list and load a model, convert it with
int8, evaluate the int8 file on labelled photos, time it at 1 and 2 threads (a small model, so the test is quick)."""

from __future__ import annotations

import pytest
from helpers import realistic_bn

import edgenet
from edgenet.api import bench, convert, evaluate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, photos_dir):
    """A Lite0 at 32 px with real photos' BatchNorm statistics, saved as an edgenet checkpoint with its classes."""
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    classes = sorted(p.name for p in photos_dir.iterdir())
    net = edgenet.create_model("lite0", num_classes=len(classes))
    realistic_bn(net, photos_dir, 32)
    path = tmp_path_factory.mktemp("api") / "best.pt"
    return save_checkpoint(path, checkpoint_from_model(net, classes=classes, preprocess=Preprocess(resolution=32)))


def test_the_readme_python_walkthrough(checkpoint, photos_dir, tmp_path):
    models = edgenet.list_models()
    assert models[:4] == ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3"]
    model = edgenet.load_model(checkpoint=checkpoint)
    assert (model.name, model.preprocess.resolution, model.num_classes) == ("efficientnet_lite0", 32, 3)

    out = tmp_path / "lite0-api"
    # a random network (realistic BatchNorm only): its int8 is below the trained-model fidelity floor (cosine ~0.87)
    report = convert(model, out, int8=True, calib_data=photos_dir, calib_samples=16, accept_low_fidelity=True)
    arts = {a.file: a for a in report.artifacts}
    assert list(arts) == ["model_fp32.tflite", "model_int8.tflite"]
    fp32, int8 = arts["model_fp32.tflite"], arts["model_int8.tflite"]
    assert fp32.input_dtype == "float32" and fp32.parity.reference == "onnx" and fp32.parity.cosine > 0.9999
    assert int8.input_dtype == "int8" and int8.parity.reference == "fp32" and int8.full_integer is True
    assert int8.bytes == (out / "model_int8.tflite").stat().st_size < fp32.bytes / 2
    assert report.recipe["quantizer"] == "tflite" and report.recipe["io_dtype"] == "int8"

    result = evaluate(out / "model_int8.tflite", photos_dir)
    assert result.n == sum(1 for p in photos_dir.rglob("*") if p.is_file()) and 0 <= result.top1 <= 1
    assert result.top5_k == 3 and result.top5 == 1.0  # "top-5" of 3 classes is top-3, always right

    rows = bench([out / "model_int8.tflite"], threads=(1, 2), runs=5)
    assert [(r.model_file, r.precision, r.backend, r.threads) for r in rows] == [
        ("model_int8.tflite", "int8", "tflite", 1),
        ("model_int8.tflite", "int8", "tflite", 2),
    ]
    assert all(r.latency_ms.p50 > 0 for r in rows)
