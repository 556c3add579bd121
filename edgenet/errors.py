"""One exception type for a user's mistake.

The CLI turns an :class:`EdgenetError` into a single line on stderr and a non-zero exit, never a traceback:
the message must name the thing that is wrong (a file, a model name) and what to do about it.
"""

from __future__ import annotations


class EdgenetError(Exception):
    """A problem the user can fix; ``exit_code`` is what the CLI exits with (2 = bad usage/input)."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class VerificationError(EdgenetError):
    """A numerical check between two stages failed; the message names the worst check."""

    exit_code = 3
