"""How much memory a conversion will need, estimated before it starts from the model's size and its activations.

Measured on the whole family (``benchmarks/convert_bench.py --family``, docs/benchmarks/convert.md), the peak is the
float graph's stage on every variant: TFLite's converter holds several copies of the weights and of TensorFlow's
graph (B7: 5.6 GB there, 4.1 GB in calibration). So the estimate is a base (the
libraries) plus a multiple of the float32 weights, and a little for one image's activations (the parity runs). Its
coefficients lie 3-19 % above every measured peak of the family, so it errs high.
"""

from __future__ import annotations

# MB = BASE + PER_WEIGHT × weight MB + PER_ACTIVATION × one image's activation MB (fitted on the family)
BASE_MB = 1500.0
PER_WEIGHT = 20.0
PER_ACTIVATION = 0.1


PROBE = 64  # px: activations are counted on one small image and scaled by area (~10 ms on the CPU)


def sizes_mb(model, resolution: int) -> tuple[float, float]:
    """(float32 weights, every module output of one ``resolution`` image) in MB.

    The outputs are counted on one ``PROBE``-px image through the model itself and scaled by the area ratio:
    exact where the sizes divide (224 = 7 × 32), a few percent high or low elsewhere, and far cheaper than a
    meta-device pass (its first call costs ~1 s of dispatch warm-up)."""
    import torch

    total = 0

    def count(_m, _i, out) -> None:
        nonlocal total
        total += out.numel() if isinstance(out, torch.Tensor) else 0

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, model.config.in_channels, PROBE, PROBE))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    weights = sum(p.numel() for p in model.parameters())
    return weights * 4 / 2**20, total * 4 / 2**20 * (resolution / PROBE) ** 2


def estimate_peak_mb(model, resolution: int) -> float:
    """The estimated peak resident memory (MB) of converting ``model`` at ``resolution``."""
    weights, activations = sizes_mb(model, resolution)
    return BASE_MB + PER_WEIGHT * weights + PER_ACTIVATION * activations
