"""Run the ``edgenet`` command line, SIGKILLing itself at one named point (tests only: ``test_convert_killed.py``).

    python kill_at.py POINT convert --model lite0 ...

A real ``kill -9`` from outside cannot hit "between these two renames" reliably; patching the function that starts
that step, in this process only, can. Nothing in edgenet reads a hook: the patches are plain attribute swaps.

POINT is one of
  staging   — as the ONNX → TensorFlow step starts (the staging folder holds model.onnx, nothing is published)
  carrying  — after the first of the user's files is linked into the new set (publishing, before the swap)
  swapped   — right after the new set was swapped in (the old folder not yet removed)
"""

from __future__ import annotations

import os
import signal
import sys


def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _then_die(real):
    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        _die()
        return result

    return wrapped


def main() -> None:
    import edgenet.converters.tflite

    from edgenet import atomic
    from edgenet.cli.main import cli

    point = sys.argv.pop(1)
    if point == "staging":
        edgenet.converters.tflite.onnx_to_tf = _die  # the pipeline imports it from the module at call time
    elif point == "carrying":
        atomic._carry = _then_die(atomic._carry)
    elif point == "swapped":
        atomic._exchange = _then_die(atomic._exchange)
    else:
        raise SystemExit(f"unknown point {point!r}")
    cli(prog_name="edgenet")


if __name__ == "__main__":
    main()
