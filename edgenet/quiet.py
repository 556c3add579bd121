"""Keep TensorFlow's and LiteRT's native (C++) logging off the user's terminal.

Their start-up and converter chatter ("fully_quantize: 0 …", "Created TensorFlow Lite XNNPACK delegate …") is
written by C++ straight to file descriptor 2 and cannot be silenced from Python.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter; must run before tensorflow is imported.

    It also loads triton (present with CUDA builds of PyTorch) first if TensorFlow is not loaded yet: triton
    imported *after* TensorFlow's shared libraries segfaults (``import tensorflow; import triton`` exits 139), and
    torchvision pulls triton in lazily — a notebook that converts and then evaluates would crash.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if "tensorflow" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[Path]:
    """Send TensorFlow/LiteRT's C++ logging (fd 2) to a temp file while Python's ``sys.stderr`` keeps the console.

    Their start-up and converter chatter ("fully_quantize: 0 …", "Created TensorFlow Lite XNNPACK delegate …")
    cannot be silenced from Python; progress bars and edgenet's own messages still reach the user.
    """
    sys_stderr = sys.stderr
    sys_stderr.flush()
    saved = os.dup(2)
    console = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    with tempfile.NamedTemporaryFile(prefix="edgenet-native-", suffix=".log", delete=False) as log:
        os.dup2(log.fileno(), 2)
    if _has_fd(sys_stderr) and sys_stderr.fileno() == 2:  # the real console: keep writing to it
        sys.stderr = console
    try:
        yield Path(log.name)
    finally:
        sys.stderr.flush()
        sys.stderr = sys_stderr
        os.dup2(saved, 2)
        os.close(saved)
        # a library that logged through the root logger meanwhile (logging.info() → basicConfig) bound a handler to
        # this console stream: drop it before closing the stream, or every later log line is a "Logging error"
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "stream", None) is console]:
            root.removeHandler(handler)
        console.close()
        Path(log.name).unlink(missing_ok=True)


def _has_fd(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
