"""Image bombs are refused from the header and skipped and counted by every reader (issue 13.9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from edgenet.device_bench.evaldata import build_eval_set, list_labeled_images
from edgenet.quantization.calibration import from_folder
from helpers import png_with_size, tiny_checkpoint
from PIL import Image

from edgenet.cli.main import cli
from edgenet.data import Skipped, build_train_data, eval_batches
from edgenet.preprocess import ImageRefused, Preprocess

PRE = Preprocess(resolution=32)


def _bombs(root: Path) -> list[Path]:
    return [png_with_size(root / "bomb.png", 30000, 30000), slim_bomb(root / "slim.png")]


def slim_bomb(path: Path) -> Path:
    """A real 60000×1 PNG of a few hundred bytes: resizing its short side to 36 px needed ~15 GB."""
    Image.new("RGB", (60000, 1), (0, 0, 255)).save(path)
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    """2 classes × 3 images, and each class one bomb."""
    root = tmp_path / "data"
    for c, colour in (("cat", (200, 40, 40)), ("dog", (40, 40, 200))):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 40), colour).save(root / c / f"{i}.png")
    png_with_size(root / "cat" / "bomb.png", 30000, 30000)
    slim_bomb(root / "dog" / "slim.png")
    return root


def test_the_shared_reader_refuses_before_decoding(tmp_path):
    bomb, slim = _bombs(tmp_path)
    assert bomb.stat().st_size < 100 and slim.stat().st_size < 1000
    with pytest.raises(ImageRefused, match=r"bomb\.png: over 179 megapixels"):
        PRE.load_rgb(bomb)
    with pytest.raises(ImageRefused, match=r"slim\.png: 60000×1 pixels, beyond the 179-megapixel or 32:1 limit"):
        PRE(slim)
    wide = tmp_path / "pano.png"
    Image.new("RGB", (320, 10)).save(wide)  # 32:1, the limit itself, is read
    assert PRE(wide).shape == (3, 32, 32)


def test_eval_batches_skip_and_count(data):
    batches, _ = eval_batches(data, PRE)
    assert [(len(y), skipped) for _, y, skipped in batches] == [(6, 2)]


def test_training_dataset_skips(data):
    td = build_train_data(data, PRE, val_split=0, augment="none")
    items = [td.train[i] for i in range(len(td.train))]
    assert sorted(Path(it.path).name for it in items if isinstance(it, Skipped)) == ["bomb.png", "slim.png"]
    assert sum(not isinstance(it, Skipped) for it in items) == 6


def test_calibration_skips_and_counts(data):
    calib = from_folder(data, PRE, n=100)
    assert (len(calib.samples), calib.skipped) == (6, 2)


def test_bench_eval_inputs_skip_and_say_so(data, tmp_path, caplog):
    items = list_labeled_images(data, ["cat", "dog"], 2)
    ev = build_eval_set(items, PRE, "NCHW", lambda x: x, tmp_path / "eval.npy", progress=False)
    assert (len(ev.targets), ev.skipped) == (6, 2)
    assert "skipped 2 of 8 image(s), unreadable or too large" in caplog.text


def test_eval_cli_counts_the_bombs(data, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"])
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(ckpt), "--data", str(data), "--workers", "0", "-q"])
    assert r.exit_code == 0, r.output
    assert "on 6 images (2 unreadable or oversized skipped)" in r.output
