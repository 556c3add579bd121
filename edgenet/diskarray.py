"""Arrays that live on disk, not in the process: preprocessed calibration images, streamed one at a time.

A hundred 600-px images are 432 MB of float32. They are written once into an unlinked temporary file (nothing is
left behind, even after ``kill -9``) and read back through a memory map, so every consumer still sees a NumPy
array. What keeps them out of the process's resident memory is :func:`release`: after a sample is written or used,
its pages are unmapped from the process (``MADV_DONTNEED``); the data stays in the page cache and the file, and is
read back when asked for again.
"""

from __future__ import annotations

import mmap
import tempfile

import numpy as np


def disk_array(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A zero-filled array of ``shape`` backed by an unlinked file in the temporary folder."""
    with tempfile.TemporaryFile(prefix="edgenet-samples-") as f:  # the mapping outlives the closed file
        f.truncate(max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1))
        return np.memmap(f, dtype=dtype, mode="r+", shape=shape)


def release(arr: np.ndarray, index: int) -> None:
    """Unmap ``arr[index]``'s whole pages from this process (a disk array's; any other array is left alone)."""
    base = arr
    while isinstance(base, np.memmap) and base.base is not None and not isinstance(base.base, mmap.mmap):
        base = base.base
    mm = getattr(base, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    row = arr[index]
    start = row.__array_interface__["data"][0] - base.__array_interface__["data"][0] + base.offset
    end = start + row.nbytes
    page = mmap.PAGESIZE
    first, last = -(-start // page) * page, end // page * page  # whole pages inside the row only
    if last > first:
        mm.madvise(mmap.MADV_DONTNEED, first, last - first)
