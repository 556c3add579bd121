"""ExecuTorch int8 quantized as TFLite quantizes: a ReLU6 after a conv is quantized after the clamp (no Q/DQ pair
between conv and clamp, so XNNPACK fuses the clamp into the conv), with min/max ranges; on the real Lite0 the .pte
is closer to float than with ExecuTorch's stock quantizer setup (the accuracy and latency on 900 photos:
benchmarks/executorch_int8.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("executorch", reason="the executorch package (edgenet[executorch]) is not installed")


def _converted(model, example, samples, stock: bool):
    from edgenet.converters.executorch import _quantized

    return _quantized(model.eval(), example, samples, stock=stock)


def test_a_clamp_after_a_conv_is_quantized_after_it():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.Conv2d(8, 4, 1))
    samples = np.random.default_rng(0).normal(0, 3, (4, 3, 8, 8)).astype(np.float32)
    example = (torch.zeros(1, 3, 8, 8),)

    def ops(stock: bool) -> list[str]:
        g = _converted(net, example, samples, stock)
        return [str(n.target).split(".")[-2] for n in g.graph.nodes if n.op == "call_function"]

    fixed, stock = ops(False), ops(True)
    i = fixed.index("hardtanh")
    assert fixed[i - 1] == "conv2d" and fixed[i + 1] == "quantize_per_tensor"
    j = stock.index("hardtanh")
    assert stock[j - 1] == "dequantize_per_tensor", "the stock setup: conv → Q → DQ → clamp (what this fixes)"


def test_the_real_lite0_quantized_as_tflite_is_closer_to_float(photos_dir):
    """The converted Q/DQ graph itself (what XNNPACK then runs, simulated in PyTorch; no lowering needed): on the
    pretrained Lite0's ReLU6 blocks, quantizing after the clamp is far closer to float than the stock setup."""
    from edgenet.quantization.calibration import from_folder

    from edgenet.loading import load_model

    loaded = load_model("lite0", pretrained=True, img_size=64)
    x = torch.from_numpy(np.asarray(from_folder(photos_dir, loaded.preprocess, 8).samples))
    example = (x[:1],)
    with torch.no_grad():
        ref = loaded.model.eval()(x)
        err = {stock: float((_converted(loaded.model, example, x.numpy(), stock)(x) - ref).abs().mean())
               for stock in (False, True)}  # fmt: skip
    assert err[False] < 0.7 * err[True], err
