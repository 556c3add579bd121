"""How long-running library calls report progress without printing: a small callback object the caller passes.

The library never writes to the terminal; the CLI passes a :class:`Progress` that draws tqdm bars and prints step
lines on stderr (``edgenet.cli.progress``), a notebook can pass its own, and the default, :data:`SILENT`, drops
everything. Warnings go to the ``edgenet`` logger *and* into the returned report, so scripts see them as data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("edgenet")


class Progress:
    """Silent by default; subclasses override :meth:`step` (a new stage) and :meth:`iterate` (a counted loop)."""

    def step(self, message: str) -> None:
        """A stage begins, e.g. ``"[1/3] exporting ONNX"``."""

    def iterate(self, items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
        """Yield ``items`` unchanged while reporting how many are done."""
        yield from items

    def warn(self, message: str) -> None:
        """Something the user must know; the default sends it to the ``edgenet`` logger."""
        log.warning(message)


SILENT = Progress()
