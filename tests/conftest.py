"""Shared fixtures: small real data and one conversion per session that several test folders reuse."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from cifar_data import cifar_subset
from photos import photo_folder


@pytest.fixture
def one_torch_thread():
    """One thread: on a busy 2-core box two OpenMP threads spin-wait for each other (several times slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory) -> Path:
    """3 classes × 12 CIFAR-10 test images."""
    return cifar_subset(tmp_path_factory.mktemp("cifar"), "test", ("cat", "dog", "ship"), 12)


@pytest.fixture(scope="session")
def photos_dir(tmp_path_factory) -> Path:
    """3 ImageNet classes × 8 images made from the real photos shipped in tests/fixtures/photos."""
    return photo_folder(tmp_path_factory.mktemp("photos"))


def realistic_bn(model, images: Path, resolution: int, n: int = 24):
    """Give a randomly initialised network the BatchNorm statistics of real images.

    Freshly initialised EfficientNets in eval mode shrink activations block after block (logits ~1e-15), which
    makes every parity metric meaningless; re-estimating BN statistics on real photos gives trained-like,
    O(1)–O(10) logits, so quantization error is measured on a realistic activation range.
    """
    import torch

    from edgenet.preprocess import Preprocess

    pre = Preprocess(resolution=resolution)
    x = torch.from_numpy(np.stack([pre(p) for p in sorted(Path(images).rglob("*.jpg"))[:n]]))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for batch in x.split(8):
            model(batch)
    return model.eval()


class NetworkBlocked(OSError):
    pass


def block_network(mp: pytest.MonkeyPatch) -> list:
    """Refuse every non-loopback connection, recording the attempts (proves a step runs offline)."""
    attempts: list = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        loopback = isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost"))
        if self.family == socket.AF_UNIX or loopback:
            return real_connect(self, address)
        attempts.append(address)
        raise NetworkBlocked(f"network blocked in tests: {address}")

    mp.setattr(socket.socket, "connect", guarded)
    mp.setattr(socket.socket, "connect_ex", lambda self, a: guarded(self, a) or 0)
    return attempts


@pytest.fixture
def no_network(monkeypatch) -> list:
    return block_network(monkeypatch)


def _convert(out: Path, calib: Path | None, model: str, res: int, **opts):
    import torch

    from converters.pipeline import ConvertOptions, convert
    from edgenet.loading import load_model

    torch.manual_seed(0)
    loaded = load_model(model, num_classes=10, img_size=res)
    realistic_bn(loaded.model, calib, res)
    return convert(loaded, ConvertOptions(out=out, calib_data=calib, calib_samples=24, progress=False, **opts))


@pytest.fixture(scope="session")
def converted_b0(tmp_path_factory, cifar_dir):
    """b0 at 64 px, 10 classes: fp32 + fp16 + dynamic + int8 (int8 I/O), converted once with the network blocked.

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
        report = _convert(out, cifar_dir, "b0", 64, fp16=True, dynamic=True, int8=True)
        after = sorted(os.listdir(cwd))
    finally:
        os.chdir(old)
        mp.undo()
    return out, report, before, after, attempts


@pytest.fixture(scope="session")
def converted_lite0_uint8(tmp_path_factory, cifar_dir):
    """lite0 at 64 px from an edgenet checkpoint with class names: fp32 + full-int8 with uint8 I/O (Edge TPU style)."""
    import torch

    from converters.pipeline import ConvertOptions, convert
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model

    root = tmp_path_factory.mktemp("lite0")
    torch.manual_seed(0)
    net = load_model("lite0", num_classes=10, img_size=64)
    realistic_bn(net.model, cifar_dir, 64)
    classes = [f"class_{i}" for i in range(10)]
    ckpt = checkpoint_from_model(net.model, classes=classes, preprocess=net.preprocess)
    path = save_checkpoint(root / "lite0.pt", ckpt)
    loaded = load_model(checkpoint=path)
    out = root / "out"
    report = convert(
        loaded,
        ConvertOptions(out=out, calib_data=cifar_dir, calib_samples=24, int8=True, int8_io="uint8", progress=False),
    )
    return out, report, path


def assert_close_logits(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    assert np.abs(a - b).max() <= atol, np.abs(a - b).max()
