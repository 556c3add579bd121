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


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an exception, so the same ``finally`` blocks run as for Ctrl-C; the CLI then exits
    128 + 15 = 143, the code a shell and a scheduler read as "terminated" (130 is Ctrl-C's)."""

    exit_code = 143


def interrupt_exit_code(e: BaseException) -> int:
    """143 for SIGTERM (:class:`Terminated`), 130 for Ctrl-C."""
    return 143 if isinstance(e, Terminated) else 130


_PENDING: list[type[KeyboardInterrupt]] = []  # the last signal raised, until the CLI has handled it


def raise_terminated(signum, frame) -> None:
    """A SIGTERM handler: raise :class:`Terminated` in the main thread (and remember it: see
    :func:`reraise_swallowed`)."""
    _PENDING[:] = [Terminated]
    raise Terminated


def raise_interrupted(signum, frame) -> None:
    """The CLI's SIGINT handler: Python's own KeyboardInterrupt, remembered as :func:`raise_terminated` does."""
    _PENDING[:] = [KeyboardInterrupt]
    raise KeyboardInterrupt


def reraise_swallowed() -> None:
    """Raise again a Ctrl-C/SIGTERM that a third-party bare ``except:`` swallowed (onnx2tf has several): called
    when a third-party step returns, so the command still stops with 130/143 instead of running on."""
    if _PENDING:
        raise _PENDING[0]()


def interrupt_handled() -> None:
    """The CLI has reported the interrupt (or a command starts): nothing is pending."""
    _PENDING.clear()


def disk_full(e: BaseException) -> EdgenetError | None:
    """A full disk or an exhausted quota as the user's one-line problem (exit 1), not a converter failure."""
    import errno

    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {e.filename}" if e.filename else ""
        return EdgenetError(f"no space left on the device{where} ({e.strerror}); free some space, or choose "
                            "another --out (nothing was published)", exit_code=1)  # fmt: skip
    return None
