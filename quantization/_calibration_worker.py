"""One calibration worker: ``python -P _calibration_worker.py MODEL.tflite SHARD.npy OUT.tflite``.

Run as a plain script (not through multiprocessing, which would re-import the caller's ``__main__`` — a notebook's
or an unguarded script's top level), it needs only NumPy and LiteRT. It prints one line per sample so the parent
can draw progress, and writes the calibrated model (every tensor's min/max recorded) to OUT.
"""

import sys

import numpy as np


def main(model_path: str, shard_path: str, out_path: str) -> None:
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


if __name__ == "__main__":
    main(*sys.argv[1:4])
