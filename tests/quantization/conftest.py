"""A small *trained* model for the int8 fidelity tests, and a copy of it with one int8-hostile layer.

Quantization error only means something on trained weights, so the session trains lite0 at 32 px on three classes
(~30 s on two busy cores) through edgenet's own training API: generated shapes everywhere, and again on real CIFAR-10
photos where ../shared holds them (the real-data tier: natural images' activation ranges).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import shapes_folder
from shared_data import cifar_subset

CLASSES = ("airplane", "cat", "ship")
OUTLIER = 200.0  # scale of the damaged channel


@pytest.fixture(scope="session", params=["shapes", pytest.param("cifar10", marks=pytest.mark.shared_data("cifar10"))])
def fidelity_data(request, tmp_path_factory) -> SimpleNamespace:
    """3 classes: 60 training images each (training, calibration) and 30 test images each (evaluation)."""
    root = tmp_path_factory.mktemp(f"fidelity_data_{request.param}")
    if request.param == "shapes":
        train = shapes_folder(root / "train", CLASSES, 60, seed=0)
        return SimpleNamespace(train=train, test=shapes_folder(root / "test", CLASSES, 30, seed=1))
    train = cifar_subset(root / "train", "train", CLASSES, 60)
    return SimpleNamespace(train=train, test=cifar_subset(root / "test", "test", CLASSES, 30))


def _recalibrate_bn(model, images: Path, resolution: int) -> None:
    """Exact BatchNorm statistics over the training images.

    A one-minute run moves the running statistics only part of the way from their initial (0, 1) at PyTorch's
    momentum 0.01 (TF's 0.99), which leaves eval-mode accuracy at chance; a cumulative average fixes that.
    """
    import torch

    from edgenet.preprocess import Preprocess
    from edgenet.training.bn import recalibrate_bn

    pre = Preprocess(resolution=resolution)
    x = torch.from_numpy(np.stack([pre(p) for p in sorted(images.rglob("*.jpg"))]))
    recalibrate_bn(model, x, batch_size=30)


@pytest.fixture(scope="session")
def trained_lite0(tmp_path_factory, fidelity_data) -> Path:
    """lite0, 32 px, 3 classes, 6 epochs of fine-tuning recipe from scratch: ~60 % top-1 (chance 33 %)."""
    from edgenet.checkpoint import checkpoint_from_model, load_checkpoint, save_checkpoint
    from edgenet.training import TrainConfig, train

    root = tmp_path_factory.mktemp("trained_lite0")
    cfg = TrainConfig(
        data=str(fidelity_data.train),
        out=str(root / "run"),
        model="lite0",
        img_size=32,
        epochs=6,
        batch_size=16,
        recipe="finetune",
        lr=3e-3,
        augment="none",
        min_crop=1.0,
        val_split=0.0,
        workers=0,
        progress=False,
        seed=0,
    )
    result = train(cfg, log=lambda msg: None)
    ckpt = load_checkpoint(result.last)
    model = ckpt.build()
    _recalibrate_bn(model, fidelity_data.train, 32)
    return save_checkpoint(root / "lite0.pt", checkpoint_from_model(model, ckpt.classes, ckpt.preprocess))


@pytest.fixture(scope="session")
def damaged_lite0(tmp_path_factory, trained_lite0) -> Path:
    """The trained model with one int8-hostile layer, its float function unchanged.

    Channel 5 of ``stages.6.0.project``'s output is scaled ×200 (BN weight and bias) and the head's weights that
    read it are divided by 200: the float network computes the same logits, but the int8 tensor between the two
    shares one scale per tensor, so every other channel is flattened to a level or two — the classic outlier-channel
    failure. (Scaling a whole conv would not do: SQNR is scale-invariant.)
    """
    import torch

    from edgenet.checkpoint import checkpoint_from_model, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(trained_lite0)
    model = ckpt.build()
    with torch.no_grad():
        bn = model.stages[6][0].project.bn
        bn.weight[5] *= OUTLIER
        bn.bias[5] *= OUTLIER
        model.head.conv.weight[:, 5] /= OUTLIER
    path = tmp_path_factory.mktemp("damaged_lite0") / "damaged.pt"
    return save_checkpoint(path, checkpoint_from_model(model, ckpt.classes, ckpt.preprocess))


@pytest.fixture(scope="session")
def converted_trained(tmp_path_factory, trained_lite0, fidelity_data) -> tuple[Path, dict]:
    """``edgenet convert --int8 --eval-data`` of the trained model: (output folder, report.json)."""
    from click.testing import CliRunner

    from edgenet.cli.main import cli

    out = tmp_path_factory.mktemp("converted_trained") / "out"
    args = ["convert", "--checkpoint", str(trained_lite0), "--int8", "--calib-data", str(fidelity_data.train)]
    args += ["--calib-samples", "48", "--eval-data", str(fidelity_data.test), "--out", str(out), "-q"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    return out, json.loads((out / "report.json").read_text())
