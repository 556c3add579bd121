"""A small labelled image folder made from the three real photos in tests/fixtures/photos (no ../shared needed).

Each photo gives ``per_class`` images: itself, then seeded random crops (60–100 % of the area) and flips, saved as
JPEG under the ImageNet WordNet-ID folder of its label, the layout ImageNet's own validation folders use.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageOps

PHOTOS = Path(__file__).parent / "fixtures" / "photos"
LABELS = {"chelsea": "n02123045", "coffee": "n07920052", "rocket": "n03773504"}  # tabby, espresso, missile
# ImageNet-1k indices a pretrained model may fairly give each photo in its top 5 (cat breeds; coffee; rocket-like)
PLAUSIBLE = {"chelsea": {281, 282, 285}, "coffee": {967, 968, 504}, "rocket": {657, 744, 812}}


def photo_folder(dest: Path, per_class: int = 8, seed: int = 0) -> Path:
    """Write ``per_class`` images of each photo into ``dest/<wnid>/``; returns ``dest``."""
    rng = random.Random(seed)
    for name, wnid in LABELS.items():
        photo = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
        (dest / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = photo
            if i:
                w, h = photo.size
                s = rng.uniform(0.6, 1.0) ** 0.5
                cw, ch = int(w * s), int(h * s)
                x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
                img = photo.crop((x, y, x + cw, y + ch))
                if rng.random() < 0.5:
                    img = ImageOps.mirror(img)
            img.save(dest / wnid / f"{name}_{i}.jpg", quality=92)
    return dest
