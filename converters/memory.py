"""How much memory a conversion will need, estimated before it starts from the model's size and its activations.

Measured on the whole family (``benchmarks/convert_bench.py --family``, docs/benchmarks/convert.md), the peak is the
float graph's stage on every variant: TFLite's converter holds several copies of the weights and of TensorFlow's
graph (B7: 6.1 GB there, 4.2 GB in calibration, 3.1 GB in the ONNX export). So the estimate is a base (the
libraries) plus a multiple of the float32 weights, and a little for one image's activations (the parity runs). Its
coefficients lie 2-13 % above every measured peak of the family, so it errs high.
"""

from __future__ import annotations

# MB = BASE + PER_WEIGHT × weight MB + PER_ACTIVATION × one image's activation MB (fitted on the family)
BASE_MB = 1500.0
PER_WEIGHT = 20.0
PER_ACTIVATION = 0.1


def sizes_mb(model, resolution: int) -> tuple[float, float]:
    """(float32 weights, every module output of one image) in MB, counted on the meta device (nothing computed)."""
    import torch

    from edgenet.models.efficientnet import EfficientNet

    with torch.device("meta"):
        clone = EfficientNet(model.config).eval()
    total = 0

    def count(_m, _i, out) -> None:
        nonlocal total
        total += out.numel() if isinstance(out, torch.Tensor) else 0

    for m in clone.modules():
        if not list(m.children()):
            m.register_forward_hook(count)
    with torch.no_grad():
        clone(torch.empty(1, model.config.in_channels, resolution, resolution, device="meta"))
    weights = sum(p.numel() for p in clone.parameters())
    return weights * 4 / 2**20, total * 4 / 2**20


def estimate_peak_mb(model, resolution: int) -> float:
    """The estimated peak resident memory (MB) of converting ``model`` at ``resolution``."""
    weights, activations = sizes_mb(model, resolution)
    return BASE_MB + PER_WEIGHT * weights + PER_ACTIVATION * activations
