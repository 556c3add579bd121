"""One walk over an image folder, shared by training, eval, calibration and ``--eval-data``.

Symbolic links are followed, since subsets of big datasets are commonly built from linked class folders, but a
link can never make a folder count twice: every directory is entered at most once (by device and inode), and a
link to the data root or to a folder above it is not followed at all. Without this, ``ln -s .. data/cat/up`` made
every image of the dataset count again as a "cat", 41 times over, with exit 0. Real folders are walked before
linked ones, so an image reached both ways keeps its real path (and class). Hidden files and folders (``.git``,
macOS's ``._x.jpg`` companions) are never images.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

# torchvision's list, so that training, eval, calibration and --eval-data agree on what an image is
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class ImageFiles:
    """The image files under a root, sorted, and the folders that were not entered (with why)."""

    root: Path
    files: list[Path] = field(default_factory=list)
    skipped_folders: list[tuple[Path, str]] = field(default_factory=list)

    def warning(self) -> str | None:
        """One line naming what the walk left out, or None when it left nothing out."""
        if not self.skipped_folders:
            return None
        path, why = self.skipped_folders[0]
        more = f" and {len(self.skipped_folders) - 1} more" if len(self.skipped_folders) > 1 else ""
        return f"{self.root}: skipped {len(self.skipped_folders)} folder(s): {path} ({why}){more}"

    def warn(self) -> None:
        """Log :meth:`warning` (the ``edgenet`` logger) once per process: several readers of one folder (train and
        validation sets, each artefact scored by convert) would otherwise repeat it."""
        if (line := self.warning()) is not None and line not in _WARNED:
            _WARNED.add(line)
            logging.getLogger("edgenet").warning(line)


_WARNED: set[str] = set()


def _key(path: Path | str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def list_image_files(root: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> ImageFiles:
    """Image files (by suffix, case-insensitive) at any depth under ``root``; see the module's rules on links."""
    root = Path(root)
    top = root.resolve()
    result = ImageFiles(root)
    seen = {_key(root)}
    real, linked = [root], []
    while real or linked:
        if real:
            folder = real.pop()
        else:
            folder = linked.pop(0)
            try:
                target, key = folder.resolve(strict=True), _key(folder)
            except (OSError, RuntimeError):  # a dangling link, or one that loops on itself
                result.skipped_folders.append((folder, "broken link"))
                continue
            if _inside(top, target):
                result.skipped_folders.append((folder, "links to the data folder or above it"))
                continue
            if key in seen:
                result.skipped_folders.append((folder, "a folder already read"))
                continue
            seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # unreadable folder: nothing to list, as for an unreadable image
            result.skipped_folders.append((folder, "cannot be listed"))
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            path = folder / e.name
            if e.is_symlink():
                try:
                    is_dir, is_file = e.is_dir(), e.is_file()
                except OSError:  # a link to itself (ELOOP): neither a folder nor an image
                    continue
                if is_dir:
                    linked.append(path)
                elif is_file and e.name.lower().endswith(suffixes):
                    result.files.append(path)
            elif e.is_dir(follow_symlinks=False):
                try:
                    key = _key(path)
                except OSError:
                    continue
                if key not in seen:  # a bind mount can show one folder twice
                    seen.add(key)
                    real.append(path)
            elif e.is_file(follow_symlinks=False) and e.name.lower().endswith(suffixes):
                result.files.append(path)
    result.files.sort()
    return result
