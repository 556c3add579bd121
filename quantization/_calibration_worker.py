"""One calibration worker: ``python -P _calibration_worker.py MODEL.tflite SHARD.npy OUT.tflite PARENT_PID``.

Run as a plain script (not through multiprocessing, which would re-import the caller's ``__main__`` — a notebook's
or an unguarded script's top level), it needs only NumPy and LiteRT. It prints one line per sample so the parent
can draw progress, writes the calibrated model (every tensor's min/max recorded) to OUT, then prints its peak
resident memory (``peak_kb N``). It dies with its parent: its next progress line fails on the closed pipe, and on
Linux the kernel also kills it (``PR_SET_PDEATHSIG``) during its final ``Calibrate()`` call, so a ``kill -9`` of
``edgenet convert`` leaves no worker burning CPU.
"""

import os
import signal
import sys

import numpy as np


def die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent exits (Linux ``PR_SET_PDEATHSIG``); elsewhere a no-op."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main(model_path: str, shard_path: str, out_path: str, parent: str = "0") -> None:
    if int(parent):
        die_with_parent(int(parent))
    from ai_edge_litert import _pywrap_tensorflow_lite_calibration_wrapper as wrapper

    with open(model_path, "rb") as f:
        model = wrapper.AddIntermediateTensors(f.read())  # the wrapper reads this buffer: keep it alive
    x = np.load(shard_path)
    cal = wrapper.CalibrationWrapper(model, [], [])
    cal.Prepare([[1, *x.shape[1:]]])
    for s in x:
        cal.FeedTensor([np.ascontiguousarray(s[None])])
        print(1, flush=True)
    calibrated = cal.Calibrate()
    with open(out_path, "wb") as f:
        f.write(calibrated)
    print("peak_kb", own_peak_kb(), flush=True)


def own_peak_kb() -> int:
    """This worker's resident high-water mark (Linux ``VmHWM``; 0 elsewhere), reported to the parent."""
    try:
        with open("/proc/self/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


if __name__ == "__main__":
    main(*sys.argv[1:5])
