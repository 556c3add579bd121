"""Helpers shared by test folders, in a module of their own.

Test modules import these from here, never ``from conftest import``: pytest registers every folder's conftest.py
under the one name ``conftest``, so which file that import finds depends on which folders a run collects (a subset
such as ``pytest tests/training tests/device_bench`` failed to collect).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from photos import PLAUSIBLE

# ImageNet-1k classes of the real pretrained Lite0's head that converted_lite0_uint8 keeps: each photo's own class
# and its near neighbours (tabby / tiger cat / Egyptian cat, …), so int8 must keep close calls apart
LITE0_HEAD = sorted(set().union(*PLAUSIBLE.values()))


def realistic_bn(model, images: Path, resolution: int, n: int = 24):
    """Give a randomly initialised network the BatchNorm statistics of real images.

    Freshly initialised EfficientNets in eval mode shrink activations block after block (logits ~1e-15), which
    makes every parity metric meaningless; re-estimating BN statistics on real photos gives trained-like,
    O(1)–O(10) logits, so quantization error is measured on a realistic activation range.
    """
    import torch

    from edgenet.preprocess import Preprocess
    from edgenet.training.bn import recalibrate_bn

    pre = Preprocess(resolution=resolution)
    x = torch.from_numpy(np.stack([pre(p) for p in sorted(Path(images).rglob("*.jpg"))[:n]]))
    return recalibrate_bn(model, x, batch_size=8)


class NetworkBlocked(OSError):
    pass


def realistic_lite0(workdir: Path, photos: Path, num_classes: int, samples: int, parity: int):
    """Lite0 at 64 px with real photos' BatchNorm statistics, its float graph (``parity`` check inputs) and
    ``samples`` calibration samples: the small real-scale model several tiers calibrate. (loaded, graph, samples)"""
    import torch
    from edgenet.converters.graph import export_float
    from edgenet.quantization import calibration

    from edgenet.loading import load_model

    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=num_classes, img_size=64)
    realistic_bn(loaded.model, photos, 64)
    cal = calibration.from_folder(photos, loaded.preprocess, samples)
    return loaded, export_float(loaded.model, loaded.name, 64, workdir, cal.samples[:parity]), cal.samples


def small_b0(folder: Path, photos: Path):
    """B0 at 0.25 width and depth (SiLU, squeeze-excite), 32 px, the photos' classes, real photos' BN statistics:
    a B0 whose float graph is well-conditioned (a full random B0's logits reach 1e5, and folding BN alone moves them
    3 %), loaded from its checkpoint."""
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    classes = sorted(p.name for p in photos.iterdir())
    net = create_model("b0", num_classes=len(classes), width_mult=0.25, depth_mult=0.25, head_channels=64)
    realistic_bn(net, photos, 32)
    path = save_checkpoint(
        folder / "b0.pt", checkpoint_from_model(net, classes=classes, preprocess=Preprocess(resolution=32))
    )
    return load_model(checkpoint=path)


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


def assert_close_logits(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    assert np.abs(a - b).max() <= atol, np.abs(a - b).max()


REQUIRE_TOOLS = os.environ.get("EDGENET_REQUIRE_TOOLS") == "1"


def missing_tool(message: str) -> NoReturn:
    """Skip a test whose system tool (sshd, adb, flatc) is absent — or fail it where that tool was promised.

    ``.ci/run`` installs the tools and sets EDGENET_REQUIRE_TOOLS=1: there, a missing tool means a broken CI image,
    which must turn the run red instead of quietly skipping the tests that need it.
    """
    if REQUIRE_TOOLS:
        pytest.fail(f"{message}; EDGENET_REQUIRE_TOOLS=1 (set by .ci/run) makes this a failure", pytrace=False)
    pytest.skip(message)


def tiny_checkpoint(path: Path, classes: list[str], resolution: int = 32) -> Path:
    """A seeded, shrunk b0 (width and depth ×0.25) saved as an edgenet checkpoint: a model in about a second."""
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    net = create_model("b0", num_classes=len(classes), width_mult=0.25, depth_mult=0.25, head_channels=64).eval()
    net.default_resolution = resolution
    path.parent.mkdir(parents=True, exist_ok=True)
    pre = Preprocess(resolution, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bilinear", 1.0)
    return save_checkpoint(path, checkpoint_from_model(net, classes=classes, preprocess=pre))


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` × ``height``: a decompression bomb without the gigabytes.

    A real 1×1 PNG with its IHDR size fields (bytes 16–23) rewritten and the chunk's CRC recomputed; readers must
    refuse it from the header, before decoding.
    """
    import io
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (255, 0, 0)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC of "IHDR" + its 13 data bytes
    path.write_bytes(bytes(data))
    return path


# class i: a shape of colour i on a noisy grey background; both cues are learnable in a few steps at 32 px
_COLOURS = [(220, 40, 40), (40, 180, 60), (40, 70, 220), (230, 200, 40), (180, 50, 200), (40, 200, 210)]
_SHAPES = ["disk", "square", "hbar", "vbar", "cross", "ring"]


def shapes_folder(dest: Path, classes: list[str] | tuple[str, ...], per_class: int, size: int = 32, seed: int = 0):
    """A labelled image folder that any test can make: ``dest/<class>/<i>.jpg``, ``per_class`` JPEGs of each class.

    Class *i* is a shape (disk, square, bars, cross, ring) in colour *i*, at a seeded random place and size, with
    jittered colour, a random grey background and pixel noise: a network learns it in a few steps, so training
    tests need no downloaded dataset (the real CIFAR-10 tier runs where ``../shared`` exists).
    """
    from PIL import Image

    if len(classes) > len(_COLOURS):
        raise ValueError(f"at most {len(_COLOURS)} classes")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    for i, cls in enumerate(classes):
        (dest / cls).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            img = np.full((size, size, 3), rng.uniform(60, 190), np.float32)
            r = rng.uniform(0.2, 0.32) * size
            cx, cy = rng.uniform(r, size - r, 2)
            dx, dy = np.abs(xx - cx), np.abs(yy - cy)
            d = np.hypot(dx, dy)
            mask = {
                "disk": d < r,
                "square": np.maximum(dx, dy) < r * 0.85,
                "hbar": (dy < r * 0.35) & (dx < r * 1.3),
                "vbar": (dx < r * 0.35) & (dy < r * 1.3),
                "cross": ((dy < r * 0.25) | (dx < r * 0.25)) & (np.maximum(dx, dy) < r * 1.2),
                "ring": (d < r) & (d > r * 0.55),
            }[_SHAPES[i]]
            img[mask] = np.asarray(_COLOURS[i]) + rng.normal(0, 12, 3)
            img += rng.normal(0, 8, img.shape)
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(dest / cls / f"{k:03d}.jpg", quality=95)
    return dest


def one_line_error(outcome: Any, *fragments: str, code: int | None = 2) -> str:
    """The one-line error a failure must be, returned for further checks.

    ``outcome`` is a click ``CliRunner`` result (the run exited with ``code``, any non-zero code when None, printed no
    traceback and exactly one ``error: …`` line, the last on stderr) or a callable that must raise
    :class:`~edgenet.errors.EdgenetError` with a one-line message and that exit code. Each fragment must be in it.
    """
    from edgenet.errors import EdgenetError

    if callable(outcome):
        with pytest.raises(EdgenetError) as e:
            outcome()
        line = str(e.value)
        assert "\n" not in line and (code is None or e.value.exit_code == code), line
    else:
        r = outcome
        assert (r.exit_code != 0) if code is None else (r.exit_code == code), r.output
        assert "Traceback" not in r.output, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        stderr = r.stderr.strip().splitlines()
        errors = [line for line in stderr if line.startswith("error: ")]
        assert len(errors) == 1 and stderr[-1] == errors[0], r.stderr
        line = errors[0]
    for f in fragments:
        assert f in line, line
    return line
