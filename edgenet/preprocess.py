"""Preprocessing that travels with the weights.

A checkpoint stores its :class:`Preprocess`, and every later stage (convert, calibrate, eval, bench, bundle)
reads it from there: most int8 "accuracy collapses" reported in the field are a mean/std, resize or label
mismatch between training and deployment, not quantization.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageOps

from edgenet.errors import EdgenetError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# What the model's input tensor takes: "normalized" — (v/255 - mean) / std, the network as trained; "raw" — RGB
# values 0–255, the normalization being the graph's first ops (what MediaPipe, the Task Library and pycoral feed).
INPUTS = ("normalized", "raw")
_INTERP = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
# Checked from the header, before a pixel is decoded. PIL's own bomb limit (2 × MAX_IMAGE_PIXELS, ~179 MP, above a
# 108 MP phone photo) raises an error no reader expected; the aspect limit stops the slim bombs (a 259-byte
# 60000×1 PNG) whose resize to a 256 px short side needs ~15 GB. A 360° phone panorama is about 10:1.
MAX_PIXELS = 178_956_970
MAX_ASPECT = 32


class ImageRefused(EdgenetError, ValueError):
    """An image too large or too elongated to decode safely; every dataset reader skips and counts it."""


@dataclass(frozen=True)
class Preprocess:
    """Resize the short side to ``resolution / crop_pct``, center-crop ``resolution``, scale to [0, 1], normalize.

    ``input`` says which of the two the *model* does: ``"raw"`` models normalize inside their graph, so this
    produces the RGB values 0–255 (as float32) and ``mean``/``std`` only record what the graph applies.
    """

    resolution: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    input: str = "normalized"

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise EdgenetError(f"input {self.input!r}: choose {' or '.join(INPUTS)}")
        # a zero std turns every input into NaN/inf: every image then lands in one class with a plausible top-1
        if len(self.std) != 3 or not all(math.isfinite(s) and s > 0 for s in self.std):
            raise EdgenetError(f"std {tuple(self.std)}: give three positive numbers, e.g. 0.229,0.224,0.225")
        if len(self.mean) != 3 or not all(math.isfinite(m) for m in self.mean):
            raise EdgenetError(f"mean {tuple(self.mean)}: give three finite numbers, e.g. 0.485,0.456,0.406")
        if not 0 < self.crop_pct <= 1:
            raise EdgenetError(f"crop_pct {self.crop_pct}: must be in (0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocess:
        return cls(
            resolution=int(d["resolution"]),
            mean=tuple(float(x) for x in d.get("mean", IMAGENET_MEAN)),
            std=tuple(float(x) for x in d.get("std", IMAGENET_STD)),
            interpolation=d.get("interpolation", "bicubic"),
            crop_pct=float(d.get("crop_pct", 0.875)),
            input=str(d.get("input", "normalized")),
        )

    @property
    def resize_size(self) -> int:
        return int(math.floor(self.resolution / self.crop_pct))

    def load_rgb(self, path) -> Image.Image:
        """Open any image as 8-bit RGB: EXIF orientation applied; grayscale, RGBA, CMYK, 16-bit converted."""
        with _open_checked(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                peak = 65535.0 if arr.max() > 255 else 255.0
                im = Image.fromarray(np.clip(arr / peak * 255.0, 0, 255).astype(np.uint8), "L")
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return im.convert("RGB")

    def crop(self, im: Image.Image) -> Image.Image:
        """Resize (short side) and center-crop to ``resolution`` — the eval transform of torchvision/timm."""
        w, h = im.size
        scale = self.resize_size / min(w, h)
        nw, nh = max(self.resolution, round(w * scale)), max(self.resolution, round(h * scale))
        im = im.resize((nw, nh), _INTERP.get(self.interpolation, Image.Resampling.BICUBIC))
        left, top = (nw - self.resolution) // 2, (nh - self.resolution) // 2
        return im.crop((left, top, left + self.resolution, top + self.resolution))

    def to_array(self, im: Image.Image, layout: str = "NCHW") -> np.ndarray:
        """float32 array normalized with mean/std (raw 0–255 for a ``raw`` model), ``CHW`` or ``HWC`` (no batch)."""
        x = np.asarray(self.crop(im), dtype=np.float32)
        if self.input == "normalized":
            x = (x / 255.0 - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1) if layout == "NCHW" else x)

    def __call__(self, path, layout: str = "NCHW") -> np.ndarray:
        return self.to_array(self.load_rgb(path), layout)


def _open_checked(path) -> Image.Image:
    """``Image.open`` (which reads only the header) refusing sizes that would exhaust memory once decoded."""
    size = f"over {MAX_PIXELS / 1e6:.0f} megapixels"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError:  # PIL's own limit: our MAX_PIXELS unless the process changed it
            im = None
    if im is not None:
        w, h = im.size
        if w * h <= MAX_PIXELS and max(w, h) <= MAX_ASPECT * max(min(w, h), 1):
            return im
        im.close()
        size = f"{w}×{h} pixels"
    raise ImageRefused(
        f"{path}: {size}, beyond the {MAX_PIXELS / 1e6:.0f}-megapixel or {MAX_ASPECT}:1 limit (a decompression "
        "bomb, or an image to shrink before use)"
    )
