"""How much memory a conversion will need, estimated before it starts from the model's size and its activations.

The peak is set by the float graph's conversion (onnx2tf and TFLite's converter hold several copies of the weights
and of TensorFlow's graph) and by the runs that check each stage on the parity inputs; calibration on fast kernels
adds the exposed activations of one image. The coefficients are fitted to the family's measured peaks
(``benchmarks/convert_bench.py --family``, docs/benchmarks/convert.md) with a margin, so the estimate errs high.
"""

from __future__ import annotations

# MB = BASE + PER_WEIGHT × weight MB + PER_ACTIVATION × one image's activation MB (fitted on the family)
BASE_MB = 1200.0
PER_WEIGHT = 8.0
PER_ACTIVATION = 1.5


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
