"""An int8 model from weights rounded before export — what ``--auto-fix`` and ``quant-report`` try when the
straight int8 model loses too much: the network's weights rounded (:mod:`edgenet.quantization.rounding`), a float
graph of their own, calibrated and quantized the way the recipe says."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgenet.progress import SILENT, Progress


@dataclass
class RoundedInt8:
    data: bytes
    model: object  # the rounded torch module (its integers are what the .tflite must hold)
    rounding: object  # edgenet.quantization.rounding.WeightRounding


def rounded_int8(
    model,
    name: str,
    resolution: int,
    samples: np.ndarray,
    parity_x: np.ndarray,
    quantizer,
    method: str,
    io_dtype: str,
    rounding: str,
    bias_correction: bool,
    iterations: int = 500,
    input_range: tuple[float, float] | None = None,
    calibrator: str = "fast",
    progress: Progress = SILENT,
) -> RoundedInt8:
    """``model`` rounded as asked, exported to a float graph in a temporary folder, calibrated on ``samples`` and
    quantized by ``quantizer`` with ``method``; the int8 bytes, the rounded network and what the rounding did."""
    from edgenet.converters.graph import export_float
    from edgenet.quantization.calibration import Calibration
    from edgenet.quantization.rounding import round_weights

    rounded, done = round_weights(model, samples, rounding, bias_correction, iterations, progress)
    with tempfile.TemporaryDirectory(prefix="edgenet-rounded-") as tmp:
        graph = export_float(rounded, name, resolution, Path(tmp), parity_x, input_range=input_range)
        calibrated = Calibration(graph.fp32, samples, input_range, calibrator).model(quantizer, method, progress)
        return RoundedInt8(quantizer.int8(calibrated, io_dtype, ()), rounded, done)
