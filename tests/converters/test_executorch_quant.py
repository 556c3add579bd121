"""ExecuTorch int8 quantized as TFLite quantizes: a ReLU6 after a conv is quantized after the clamp (no Q/DQ pair
between conv and clamp, so XNNPACK fuses the clamp into the conv), with min/max ranges; on the real Lite0 the .pte
is closer to float than with ExecuTorch's stock quantizer setup."""

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


@pytest.mark.slow
def test_lite0_pte_is_closer_to_float_than_stock(tmp_path, photos_dir):
    from edgenet.converters.executorch import export_pte
    from edgenet.quantization.calibration import from_folder

    from edgenet.artifacts.runtime import runner_for
    from edgenet.loading import load_model

    loaded = load_model("lite0", pretrained=True, img_size=64)
    x = np.asarray(from_folder(photos_dir, loaded.preprocess, 16).samples)
    with torch.no_grad():
        ref = loaded.model.eval()(torch.from_numpy(x)).numpy()
    err = {}
    for stock in (False, True):
        data, info = export_pte(loaded.model, 64, x, stock=stock)
        assert info.portable_ops == 0
        path = tmp_path / f"{stock}.pte"
        path.write_bytes(data)
        out = runner_for(path)(x)
        err[stock] = float(np.abs(out - ref).mean())
    assert err[False] < 0.7 * err[True], err
