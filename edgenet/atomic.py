"""Atomic writes: a crash or a failed check never leaves a half-written artefact in place of a good one.

Everything is written next to its destination (same filesystem, so ``os.replace`` is atomic) and renamed
only once complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest``, on error it is removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a published artefact gets the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(dest: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(dest: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def publish_dir(staging: Path, out: Path) -> list[Path]:
    """Move every file of ``staging`` into ``out`` (created if needed), each by an atomic rename.

    Files of an earlier run in ``out`` that this run also produced are replaced; others are left alone.
    ``staging`` must be on the same filesystem as ``out`` (create it with :func:`staging_dir`).
    """
    out.mkdir(parents=True, exist_ok=True)
    moved = []
    for src in sorted(staging.iterdir()):
        if src.is_file():
            dst = out / src.name
            os.replace(src, dst)
            moved.append(dst)
    return moved


@contextlib.contextmanager
def staging_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside ``out`` (so renames into it are atomic), removed afterwards whatever happens."""
    out = Path(out).resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(20, "exists and is not a folder")
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as e:
        from edgenet.errors import EdgenetError

        raise EdgenetError(f"{out}: output folder is not writable ({e.strerror or e}); choose another --out") from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
