"""Failures inside third-party converters (torch.onnx, onnxslim, onnx2tf, TFLite's converter) as one line.

Their exceptions are long tracebacks from deep inside another project: useful to whoever reports the bug, noise
to a user. :func:`third_party` turns any such exception into an :class:`EdgenetError` naming the stage, the tool
and the model, with the full traceback saved to a log file and kept on the error (``convert -v`` prints it).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import traceback
from collections.abc import Iterator

from edgenet.errors import EdgenetError, disk_full


class ConverterError(EdgenetError):
    """A third-party converter failed on this model; exit code 4 tells it apart from bad input (2) and checks (3)."""

    exit_code = 4

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # the third-party traceback, for ``-v``


@contextlib.contextmanager
def third_party(stage: str, tool: str, model: str, log: io.StringIO | None = None) -> Iterator[None]:
    """Run a third-party step; on any exception, keep its traceback in a log file and raise one line.

    ``log`` collects what the tool printed (onnx2tf's captured output); it is saved before the traceback.
    """
    from edgenet.errors import reraise_swallowed

    try:
        yield
        reraise_swallowed()
    except EdgenetError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        if (full := disk_full(e)) is not None:  # the disk, not the tool: nothing to report upstream
            raise full from None
        text = traceback.format_exc()
        with tempfile.NamedTemporaryFile(
            "w", prefix="edgenet-convert-", suffix=".log", delete=False, encoding="utf-8"
        ) as f:
            f.write(f"{stage} ({tool}) failed on {model}\n\n{log.getvalue() if log else ''}\n{text}")
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ConverterError(
            f"{stage}: {tool} failed on {model} ({type(e).__name__}: {first}); traceback in {f.name}", detail=text
        ) from None
