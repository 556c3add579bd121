"""Arrays that live on disk, not in the process: preprocessed calibration images, streamed one at a time.

A hundred 600-px images are 432 MB of float32. They are written once into an unlinked temporary file (nothing is
left behind, even after ``kill -9``) and read back through a memory map, so every consumer still sees a NumPy
array. What keeps them out of the process's resident memory is :func:`release`: after a sample is written or used,
its pages are unmapped from the process (``MADV_DONTNEED``); the data stays in the page cache and the file, and is
read back when asked for again. (On a tmpfs ``$TMPDIR`` the file itself is memory: point ``TMPDIR`` at a disk.)
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref

import numpy as np

from edgenet.errors import EdgenetError

_OURS: set[int] = set()  # ids of the live maps this module made: the only ones release() touches


def disk_array(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A zero-filled array of ``shape`` backed by an unlinked file in the temporary folder, its space reserved
    (a full disk is an error now, not a crash when a page is first written)."""
    size = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    with tempfile.TemporaryFile(prefix="edgenet-samples-") as f:  # the mapping outlives the closed file
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(f.fileno(), 0, size)
            else:  # pragma: no cover - not Linux
                f.truncate(size)
        except OSError as e:
            raise EdgenetError(
                f"{tempfile.gettempdir()}: no room for {size / 2**20:.0f} MB of calibration samples "
                f"({e.strerror or e}); free space there or point TMPDIR at a larger disk"
            ) from None
        arr = np.memmap(f, dtype=dtype, mode="r+", shape=shape)
    _OURS.add(id(arr))
    weakref.finalize(arr, _OURS.discard, id(arr))
    return arr


def release(arr: np.ndarray, index: int) -> None:
    """Unmap ``arr[index]``'s whole pages from this process, for an array :func:`disk_array` made (or a view of
    one); any other array is left alone (on a private map, unmapping would discard the caller's changes)."""
    base = arr
    while isinstance(base, np.memmap) and id(base) not in _OURS and isinstance(base.base, np.ndarray):
        base = base.base
    if id(base) not in _OURS or not hasattr(mmap, "MADV_DONTNEED"):
        return
    mm = base._mmap
    row = arr[index]
    start = row.__array_interface__["data"][0] - base.__array_interface__["data"][0] + base.offset
    end = start + row.nbytes
    page = mmap.PAGESIZE
    first, last = -(-start // page) * page, end // page * page  # whole pages inside the row only
    if last > first:
        mm.madvise(mmap.MADV_DONTNEED, first, last - first)
