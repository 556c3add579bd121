"""Shared fixtures: small real data and one conversion per session that several test folders reuse."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# Load triton's libtriton before anything loads TensorFlow's shared libraries: the other way round segfaults in
# triton's import (exit 139). torchvision and torch.utils.flop_counter pull triton in lazily, so a test subset that
# converts first (TensorFlow) and profiles MACs later crashed; importing it here fixes every order (0.15 s).
# edgenet.quiet.quiet_tensorflow guards the product's one such path the same way. CPU-only torch wheels ship no triton.
if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401

import pytest
from helpers import LITE0_HEAD, block_network, realistic_bn
from photos import photo_folder

_DESELECTED: dict[str, int] = {}  # why -> how many real-data tests were left out


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "shared_data(name): the real-data tier, on ../shared/data (cifar10, imagenet-sample); deselected where absent",
    )


@pytest.hookimpl(trylast=True)  # after -m/-k: count only tests that would otherwise have run
def pytest_collection_modifyitems(config, items) -> None:
    """Deselect real-data tests whose dataset is absent (tests/shared_data.py): the core suite never skips for data."""
    import shared_data

    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("shared_data")
        why = shared_data.missing(marker.args[0]) if marker else None
        (drop if why else keep).append(item)
        if why:
            _DESELECTED[why] = _DESELECTED.get(why, 0) + 1
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter) -> None:
    for why, n in _DESELECTED.items():
        terminalreporter.write_line(f"real-data tier: {n} test(s) not run, {why}")


@pytest.fixture
def one_torch_thread():
    """One thread: on a busy 2-core box two OpenMP threads spin-wait for each other (several times slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def photos_dir(tmp_path_factory) -> Path:
    """3 ImageNet classes × 8 images made from the real photos shipped in tests/fixtures/photos."""
    return photo_folder(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session", autouse=True)
def _tensorflow_models_in_background(request, tmp_path_factory) -> None:
    """Start the TensorFlow-built test models as the session starts, when a selected test needs them.

    tests/tflite_builders.py and tests/device_bench/tiny_models.py each take ~8 s, mostly TensorFlow's
    import, in processes of their own: started here they overlap the tests before the first that waits for them.
    """
    tb, tiny = sys.modules.get("tflite_builders"), sys.modules.get("tiny_models")  # imported by collected modules
    items = request.session.items
    if tb is not None and any(getattr(getattr(i, "module", None), "tb", None) is tb for i in items):
        tb.start()
    if tiny is not None and any("tiny" in getattr(i, "fixturenames", ()) for i in items):
        tiny.start(tmp_path_factory.getbasetemp() / "tiny_models")


@pytest.fixture
def no_network(monkeypatch) -> list:
    return block_network(monkeypatch)


def _convert(out: Path, calib: Path | None, model: str, res: int, **opts):
    import torch
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.loading import load_model

    torch.manual_seed(0)
    loaded = load_model(model, num_classes=10, img_size=res)
    realistic_bn(loaded.model, calib, res)
    return convert(loaded, ConvertOptions(out=out, calib_data=calib, calib_samples=24, **opts))


@pytest.fixture(scope="session")
def converted_b0(tmp_path_factory, photos_dir):
    """b0 at 64 px, 10 classes: fp32 + fp16 + dynamic + int8 (int8 I/O), converted once with the network blocked.

    Random weights with real photos' BatchNorm statistics (``realistic_bn``): logits reach ~10³, so fp32 parity
    is measured on a real scale. Its SiLU/squeeze-excite layers with random weights are chaotic under
    quantization, so quantized fidelity is measured on ``converted_lite0_uint8`` (real weights) instead.
    Returns (out_dir, report, cwd files before, cwd files after, blocked connection attempts).
    """
    mp = pytest.MonkeyPatch()
    attempts = block_network(mp)
    cwd = tmp_path_factory.mktemp("user_cwd")
    old = os.getcwd()
    os.chdir(cwd)
    before = sorted(os.listdir(cwd))
    try:
        out = tmp_path_factory.mktemp("b0") / "out"
        report = _convert(out, photos_dir, "b0", 64, fp16=True, dynamic=True, int8=True)
        after = sorted(os.listdir(cwd))
    finally:
        os.chdir(old)
        mp.undo()
    return out, report, before, after, attempts


@pytest.fixture(scope="session")
def converted_lite0_uint8(tmp_path_factory, photos_dir):
    """The real ImageNet Lite0 (offline, from its pip package) cut to 9 classes, at 64 px, from an edgenet
    checkpoint with class names: fp32 + fp16 + dynamic + full-int8 with uint8 I/O (Edge TPU style).

    Real weights: quantized artefacts keep real answers (int8 cosine ~0.999 on the photos, while a per-tensor
    weight quantization or a mis-scaled calibration set drops it below 0.98), so fidelity bounds mean something.
    Calibrated and compared on all 24 photos. Returns (out_dir, report, checkpoint path).
    """
    import torch
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.imagenet import imagenet_classes
    from edgenet.loading import load_model

    root = tmp_path_factory.mktemp("lite0")
    net = load_model("lite0", pretrained=True, img_size=64)
    weight, bias = net.model.classifier.weight[LITE0_HEAD].detach(), net.model.classifier.bias[LITE0_HEAD].detach()
    net.model.reset_classifier(len(LITE0_HEAD))
    with torch.no_grad():
        net.model.classifier.weight.copy_(weight)
        net.model.classifier.bias.copy_(bias)
    classes = [imagenet_classes()[i] for i in LITE0_HEAD]
    ckpt = checkpoint_from_model(net.model, classes=classes, preprocess=net.preprocess)
    path = save_checkpoint(root / "lite0.pt", ckpt)
    loaded = load_model(checkpoint=path)
    out = root / "out"
    opts = ConvertOptions(
        out=out,
        calib_data=photos_dir,
        calib_samples=24,
        parity_samples=24,
        fp16=True,
        dynamic=True,
        int8=True,
        int8_io="uint8",
    )
    return out, convert(loaded, opts), path
