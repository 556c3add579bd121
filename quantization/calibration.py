"""The representative dataset (the user's images through the model's own preprocessing) and the
:class:`Calibration` made from it: activation ranges recorded on one fp32 model, for any quantizer and method.

Int8 ranges are only as good as the data they are measured on, so calibration uses exactly the resize, crop
and mean/std of deployment, in a deterministic order (a seeded shuffle of the sorted file list, so the first N
samples mix classes instead of taking N pictures of the first folder). The samples stream into a disk-backed array
(:mod:`edgenet.diskarray`): the process holds the one in use, not all of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgenet.diskarray import disk_array, release
from edgenet.errors import EdgenetError
from edgenet.imagefiles import list_image_files
from edgenet.preprocess import Preprocess
from edgenet.progress import SILENT, Progress
from edgenet.resources import StageMeter

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class CalibrationSet:
    """Preprocessed NCHW float32 samples plus where they came from (serialized into report.json)."""

    source: str  # "dir" | "synthetic"
    samples: np.ndarray = field(repr=False)
    skipped: int = 0
    skipped_files: list[str] = field(default_factory=list, repr=False)
    path: str | None = None

    def summary(self) -> dict:
        return {"source": self.source, "samples": int(len(self.samples)), "skipped": self.skipped, "path": self.path}


def list_images(root: str | Path) -> list[Path]:
    """Image files at any depth under ``root``, sorted (hidden files and folders skipped, no folder read twice)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise EdgenetError(f"--calib-data {root}: is a file, not a folder; pass the folder holding the images")
    if not root.is_dir():
        raise EdgenetError(f"{root}: calibration folder not found; pass a folder of images with --calib-data")
    listing = list_image_files(root)
    listing.warn()
    return listing.files


class _Stream:
    """Preprocessed samples written one by one into a disk array (:mod:`edgenet.diskarray`): a 100-image B7
    calibration set is 432 MB that the process need not hold."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.arr, self.n = capacity, None, 0

    def add(self, sample: np.ndarray) -> None:
        if self.arr is None:
            self.arr = disk_array((self.capacity, *sample.shape), np.float32)
        self.arr[self.n] = sample
        release(self.arr, self.n)
        self.n += 1

    def samples(self) -> np.ndarray:
        return self.arr[: self.n]


def from_folder(
    root: str | Path, pre: Preprocess, n: int, seed: int = 0, progress: Progress = SILENT
) -> CalibrationSet:
    """Load up to ``n`` readable images into a disk-backed array; unreadable ones are skipped and counted."""
    files = list_images(root)
    random.Random(seed).shuffle(files)
    stream, skipped = _Stream(min(n, len(files))), []
    for f in progress.iterate(files, "calibration images", len(files), "file"):
        if stream.n >= n:
            break
        try:
            sample = pre(f)
        except Exception:  # PIL raises many types for truncated/corrupt files
            skipped.append(str(f))
            continue
        stream.add(sample)
    if not stream.n:
        raise EdgenetError(
            f"{root}: no readable image among {len(files)} file(s) "
            f"({', '.join(IMAGE_EXTENSIONS)}); point --calib-data at a folder of images"
        )
    return CalibrationSet("dir", stream.samples(), len(skipped), skipped, str(root))


def synthetic(pre: Preprocess, n: int, seed: int = 0) -> CalibrationSet:
    """Generated stand-ins (smooth colour fields plus noise) through the same preprocessing.

    Only good enough to produce a valid int8 model: activation ranges of real photos differ, so the caller must
    warn that int8 accuracy needs representative data.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    size = max(pre.resize_size, 32)
    stream = _Stream(n)
    for _ in range(n):
        low = rng.uniform(0, 255, (4, 4, 3))
        field_ = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC))
        img = np.clip(field_ + rng.normal(0, 20, field_.shape), 0, 255).astype(np.uint8)
        stream.add(pre.to_array(Image.fromarray(img)))
    return CalibrationSet("synthetic", stream.samples())


SYNTHETIC_WARNING = (
    "no --calib-data: int8 ranges are calibrated on generated images; int8 accuracy needs representative data "
    "(pass a folder of your images)"
)


def calibration_set(
    folder: str | Path | None, pre: Preprocess, n: int, progress: Progress = SILENT
) -> tuple[CalibrationSet, str | None]:
    """``n`` samples from ``folder``, or generated ones, with the warning the report must carry: generated images,
    or fewer readable images than asked (the rest of the calibration used to shrink silently: 5 for 100)."""
    if folder is not None:
        cal = from_folder(folder, pre, n, progress=progress)
        got = len(cal.samples)
        if got >= n:
            return cal, None
        skipped = f" ({cal.skipped} unreadable)" if cal.skipped else ""
        return cal, (
            f"--calib-data {folder}: {got} readable image(s){skipped} where --calib-samples asks for {n}; ranges "
            f"are calibrated on those {got}: add images, or pass --calib-samples {got} to make it explicit"
        )
    return synthetic(pre, n), SYNTHETIC_WARNING


class Calibration:
    """One sample set's activation ranges on one fp32 ``.tflite``: what every int8 model of a conversion is
    quantized from.

    ``model(quantizer, method)`` is the fp32 model with ranges recorded by ``calibrator``
    (:data:`edgenet.quantization.calibrator.CALIBRATORS`), narrowed by the ``--calibration`` method; each step (the
    calibration pass, histograms, a method's ranges) runs once per object, so int8, ``--auto-fix`` trying several
    methods and quant-report's debugger share one pass. Another sample set is another object. ``input_range`` pins
    a raw-pixel input to exactly that range; ``meter`` times each pass as a stage of report.json.
    """

    def __init__(
        self,
        fp32: bytes,
        samples: np.ndarray,
        input_range: tuple[float, float] | None = None,
        calibrator: str = "fast",
        meter: StageMeter | None = None,
    ) -> None:
        if samples is None or not len(samples):
            raise ValueError("this artefact kind needs calibration samples")
        self.fp32, self.samples, self.input_range, self.calibrator = fp32, samples, input_range, calibrator
        self.meter = meter or StageMeter()
        self._cache: dict = {}

    def model(self, quantizer, method: str = "minmax", progress: Progress = SILENT) -> bytes:
        from edgenet.quantization.calibration_methods import choose_ranges, parse_method
        from edgenet.quantization.calibrator import calibrate, pin_input_range
        from edgenet.quantization.ranges import boundary_tensors, histograms, read_ranges, write_ranges

        base, cache = "ranges", self._cache  # every quantizer reads the same calibrated model
        if base not in cache:
            with self.meter.stage(f"calibration ({self.calibrator})"):
                calibrated = calibrate(self.fp32, self.samples, progress=progress, calibrator=self.calibrator)
            if self.input_range is not None:  # raw-pixel input: exactly [0, 255] (edgenet.quantization.calibrator)
                calibrated = pin_input_range(calibrated, *self.input_range)
            cache[base] = calibrated
        m, param = parse_method(method)
        if m.choose is None:
            return cache[base]
        if (base, "histograms") not in cache:
            ranges = read_ranges(cache[base])
            kernels = "xnnpack" if self.calibrator == "fast" else "builtin"  # the values the ranges came from
            with self.meter.stage("activation histograms"):
                hist = histograms(self.fp32, self.samples, ranges, progress=progress, kernels=kernels)
            cache[(base, "histograms")] = hist
        key = (base, m.name, param)
        if key not in cache:
            hist = cache[(base, "histograms")]
            ranges = choose_ranges(m, param, read_ranges(cache[base]), hist, boundary_tensors(self.fp32))
            cache[key] = write_ranges(cache[base], ranges)
        return cache[key]
