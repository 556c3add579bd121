"""App-ready input: the model's normalization moved into the graph, so the input tensor takes RGB pixels 0–255.

Why: the clients people put in apps feed an integer input the camera's raw pixels. MediaPipe's ImageClassifier
and the TFLite Task Library ignore NormalizationOptions for uint8 inputs, and pycoral's ``classify_image`` feeds
pixels directly only when ``|scale·std − 1| < 1e-5`` and ``|mean − zero_point| < 1e-5``; MediaPipe refuses
per-channel normalization for float inputs altogether. A model whose graph starts with ``x·a + b``
(``a = 1 / (255·std)``, ``b = −mean / std`` per channel) takes the pixels as they come: its uint8 input is exactly
scale 1, zero point 0 (int8: scale 1, zero point −128, the calibrated input range being pinned to [0, 255] —
:func:`edgenet.quantization.calibrator.pin_input_range`), its float input is 0–255, its metadata says mean 0 /
std 1.

The two ops stay in the graph rather than being folded into the stem convolution: that convolution pads with
zeros in *normalized* space, which no change of its weights reproduces for pixel inputs.
"""

from __future__ import annotations

from dataclasses import replace

from edgenet.loading import LoadedModel

RAW_RANGE = (0.0, 255.0)


def _normalizer(mean, std):
    import torch
    from torch import nn

    class PixelNormalize(nn.Module):
        """RGB 0–255 (NCHW) → (v/255 − mean) / std: one multiply and one add per channel."""

        def __init__(self) -> None:
            super().__init__()
            s = torch.tensor([1.0 / (255.0 * float(x)) for x in std], dtype=torch.float32)
            b = torch.tensor([-float(m) / float(x) for m, x in zip(mean, std)], dtype=torch.float32)
            self.register_buffer("scale", s.view(1, 3, 1, 1))
            self.register_buffer("bias", b.view(1, 3, 1, 1))

        def forward(self, x):
            return x * self.scale + self.bias

    return PixelNormalize()


def with_raw_input(loaded: LoadedModel) -> LoadedModel:
    """``loaded`` with a copy of its network that normalizes first, and preprocessing that produces raw pixels.

    The normalization is a submodule (``input_norm``) run by a forward pre-hook rather than a wrapper around the
    network, so every module keeps its path (``stages.3.1.depthwise``…): the ONNX node names, and with them the
    layer names of ``quant-report`` and ``--keep-float``, stay those of the normalized model. The caller's
    network is untouched. Outputs on raw pixels equal the original's on normalized inputs up to float rounding."""
    if loaded.preprocess.input == "raw":
        return loaded
    import copy

    pre = loaded.preprocess
    net = copy.deepcopy(loaded.model).eval()
    net.add_module("input_norm", _normalizer(pre.mean, pre.std))
    net.register_forward_pre_hook(lambda module, args: (module.input_norm(args[0]), *args[1:]))
    return replace(loaded, model=net, preprocess=replace(pre, input="raw"))
