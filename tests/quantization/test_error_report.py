"""quant-report's advice and plot: no blaming a layer when every layer is at rounding noise; no line off the plot."""

from __future__ import annotations

import numpy as np
from edgenet.quantization.debugger import LayerError, rank, write_png
from edgenet.quantization.error_report import QuantReport, at_rounding_noise, suggestions
from PIL import Image


def layer(depth: int, sqnr: float | None, rmse: float | None) -> LayerError:
    name = f"stages.{depth}.0.project"
    return LayerError(0, depth, name, depth, 0, "project", "CONV_2D", sqnr, sqnr, rmse, 0.0, 0.1, 0, 10, name)


def report(layers: list[LayerError], drop: float | None = None) -> QuantReport:
    r = QuantReport("0", "efficientnet_lite0", 224, "pretrained", "relu6", {}, 32, rank(layers), int8_ms=4.0)
    if drop is not None:
        r.drop, r.accuracy = drop, {"fp32": {"n": 900}, "int8": {"n": 900}}
    return r


def test_rounding_noise_everywhere_is_said_not_blamed_on_a_layer():
    # the real Lite0's shape: the worst-SQNR layers round cleanly; a high-SQNR stem may show more steps of error
    quiet = [layer(i, 25.0 + i, 0.29 + 0.002 * i) for i in range(6)] + [layer(6, 45.0, 2.8)]
    assert at_rounding_noise(rank(quiet))
    first = suggestions(report(quiet, drop=0.56), 1000, None)[0]
    assert "rounding noise" in first and "--keep-float" not in first and "0.56 points on 900 images" in first
    assert "stages.0.0.project" in first  # names the layers it cleared


def test_a_clipping_layer_is_named_for_float_fallback():
    loud = [layer(i, 25.0, 0.29) for i in range(5)] + [layer(5, 8.0, 1.7)]
    assert not at_rounding_noise(rank(loud))
    first = suggestions(report(loud), 1000, None)[0]
    assert first.startswith("float fallback of the worst layers") and "stages.5.0.project" in first


def test_plot_keeps_exact_layers_on_the_axis(tmp_path):
    """A PAD reproduced exactly reads 120 dB; the axis stops at 70 and the point sits on its edge, not off it."""
    layers = rank([layer(0, 120.0, 0.0), layer(1, 30.0, 0.3), layer(2, 22.0, 0.31)])
    path = tmp_path / "error_by_depth.png"
    lo, hi, above = write_png(layers, path, "test", top=2)
    assert hi == 70 and above == 1 and lo <= 17  # the 120 dB tensor on the top edge; 22 dB - 5 dB still visible
    assert np.asarray(Image.open(path)).shape[:2] == (450, 1100)
