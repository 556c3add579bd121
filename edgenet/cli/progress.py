"""The CLI's :class:`edgenet.progress.Progress`: step lines and tqdm bars on stderr, warnings as ``WARNING:`` lines."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from edgenet.progress import Progress

T = TypeVar("T")


class ConsoleProgress(Progress):
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def step(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stderr, flush=True)

    def iterate(self, items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
        from tqdm import tqdm

        # disable=None: a bar only on a terminal, so logs of CI runs stay clean
        yield from tqdm(
            items,
            desc=desc,
            total=total,
            unit=unit,
            file=sys.stderr,
            leave=False,
            disable=None if self.enabled else True,
        )

    def warn(self, message: str) -> None:
        print(f"WARNING: {message}", file=sys.stderr, flush=True)


def write_above_bars(message: str) -> None:
    """A log line on stderr that does not tear a running tqdm bar."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
