"""Calibration images: any depth, odd formats converted, broken files skipped and counted, deterministic order."""

from __future__ import annotations

import numpy as np
import pytest
from edgenet.quantization.calibration import from_folder, list_images, synthetic
from PIL import Image

from edgenet.errors import EdgenetError
from edgenet.preprocess import Preprocess

PRE = Preprocess(resolution=32)


@pytest.fixture
def odd_folder(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
    (tmp_path / "a" / "deep" / "er").mkdir(parents=True)
    Image.fromarray(rgb).save(tmp_path / "a" / "rgb.jpg")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "a" / "deep" / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full((40, 48), 128, np.uint8)])).save(
        tmp_path / "a" / "deep" / "er" / "rgba.png"
    )
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    Image.fromarray(rgb).save(tmp_path / "b.webp")
    Image.fromarray(rgb).save(tmp_path / "c.bmp")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_every_format_loads_and_corrupt_is_counted(odd_folder):
    assert len(list_images(odd_folder)) == 8
    cal = from_folder(odd_folder, PRE, n=100)
    assert cal.source == "dir" and cal.samples.shape == (7, 3, 32, 32) and cal.samples.dtype == np.float32
    assert cal.skipped == 1 and cal.skipped_files[0].endswith("corrupt.jpg")
    assert np.isfinite(cal.samples).all()


def test_sixteen_bit_is_scaled_not_clipped(odd_folder):
    im = PRE.load_rgb(odd_folder / "sixteen.png")
    ref = PRE.load_rgb(odd_folder / "a" / "rgb.jpg")
    assert im.mode == "RGB" and abs(np.asarray(im)[..., 0].mean() - np.asarray(ref)[..., 1].mean()) < 3


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert PRE.load_rgb(tmp_path / "rot.jpg").size == (20, 40)


def test_order_is_deterministic_and_mixes_folders(odd_folder):
    a = from_folder(odd_folder, PRE, n=3).samples
    b = from_folder(odd_folder, PRE, n=3).samples
    np.testing.assert_array_equal(a, b)


def test_errors(tmp_path):
    with pytest.raises(EdgenetError, match="not found"):
        from_folder(tmp_path / "missing", PRE, 4)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(EdgenetError, match="no readable image"):
        from_folder(tmp_path, PRE, 4)


def test_synthetic_is_marked():
    cal = synthetic(PRE, 5)
    assert cal.source == "synthetic" and cal.samples.shape == (5, 3, 32, 32) and cal.summary()["skipped"] == 0


def test_fewer_readable_images_than_asked_is_said(tmp_path):
    """Issue 26.6: calibration silently used 5 images when 100 were asked."""
    from edgenet.quantization.calibration import calibration_set

    for i in range(3):
        Image.new("RGB", (40, 40), (i * 60, 90, 30)).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    cal, warning = calibration_set(tmp_path, Preprocess(32), 100)
    assert len(cal.samples) == 3
    assert f"--calib-data {tmp_path}: 3 readable image(s) (1 unreadable) where --calib-samples asks for 100" in warning
    assert calibration_set(tmp_path, Preprocess(32), 3)[1] is None  # as many as asked: nothing to say


def test_a_file_given_as_a_folder_is_named_as_a_file(tmp_path):
    """Issue 26.9: --calib-data FILE said "folder not found" for a file that exists."""
    from edgenet.device_bench.evaldata import list_labeled_images

    from edgenet.data import scan_class_folders

    photo = tmp_path / "cat.jpg"
    Image.new("RGB", (40, 40)).save(photo)
    with pytest.raises(EdgenetError, match="is a file, not a folder; pass the folder holding the images"):
        list_images(photo)
    with pytest.raises(EdgenetError, match="is a file, not a folder"):
        scan_class_folders(photo)
    with pytest.raises(EdgenetError, match=r"--eval-data .*cat\.jpg: is a file, not a folder"):
        list_labeled_images(photo, None, None)


def _rss_mb() -> float:
    from pathlib import Path

    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("no /proc/self/status")
    return next(int(line.split()[1]) / 1024 for line in status.read_text().splitlines() if line.startswith("VmRSS:"))


def test_samples_stream_through_a_disk_array_not_memory(photos_dir):
    """24 images at 600 px are 99 MB of float32; loading them and reading each back keeps them off the process's
    resident memory (written to an unlinked file, each one's pages released after use)."""
    from edgenet.diskarray import release

    before = _rss_mb()
    cal = from_folder(photos_dir, Preprocess(resolution=600), 24)
    assert isinstance(cal.samples, np.memmap) and cal.samples.shape == (24, 3, 600, 600)
    assert cal.samples.nbytes > 90 << 20
    total = 0.0
    for i in range(len(cal.samples)):
        total += float(cal.samples[i].mean())
        release(cal.samples, i)
    assert _rss_mb() - before < 30, "the samples are resident"
    # the data is all there: the same numbers as loading them into memory
    again = from_folder(photos_dir, Preprocess(resolution=600), 3)
    assert np.array_equal(np.asarray(again.samples), np.asarray(cal.samples[:3]))
    assert np.isfinite(total)


def test_release_leaves_other_maps_alone(tmp_path):
    """Only edgenet's own disk arrays are unmapped: on a copy-on-write map that would discard the caller's edits."""
    from edgenet.diskarray import release

    np.save(tmp_path / "x.npy", np.ones((3, 1 << 20), np.float32))
    cow = np.load(tmp_path / "x.npy", mmap_mode="c")
    cow[1] = 5.0
    release(cow, 1)
    assert float(cow[1].mean()) == 5.0
