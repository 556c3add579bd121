"""Settings and helpers the training tests share (a module, not conftest: see tests/helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

# Small enough for a busy 2-core box: lite0 at 32 px, 4 images a step, no worker processes.
FAST = dict(model="lite0", img_size=32, batch_size=4, workers=0, progress=False)


def corrupt_copy(src: Path, dest: Path) -> tuple[Path, list[Path]]:
    """A copy of ``src`` with one truncated JPEG and one file that is no image at all."""
    shutil.copytree(src, dest)
    first = sorted((dest / sorted(p.name for p in dest.iterdir())[0]).iterdir())
    truncated, garbage = first[0], first[1]
    truncated.write_bytes(truncated.read_bytes()[:200])
    garbage.write_bytes(b"this is not a jpeg")
    return dest, [truncated, garbage]
