"""EfficientNet's building blocks, with named submodules (expand, depthwise, se, project) and flat forwards."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU,  # B0–B7: SiLU ("swish")
    "relu": nn.ReLU,  # EdgeTPU variants
    "relu6": nn.ReLU6,  # Lite: bounded range, friendly to int8
    "hardswish": nn.Hardswish,  # a cheap, quantization-friendly stand-in for SiLU
}


def make_act(name: str | None) -> nn.Module:
    """An activation module by name; ``None`` is identity (projection convs are linear)."""
    if name is None:
        return nn.Identity()
    try:
        return ACTIVATIONS[name](inplace=True)
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


def same_pads(size: tuple[int, int], kernel: tuple, stride: tuple, dilation: tuple) -> tuple[int, int, int, int]:
    """TensorFlow "SAME" padding as ``F.pad``'s (left, right, top, bottom): the odd pixel goes right/bottom."""
    pads: list[int] = []
    for n, k, s, d in zip(size[::-1], kernel[::-1], stride[::-1], dilation[::-1]):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class _ExportPad(torch.autograd.Function):
    """``F.pad`` that exports as one ONNX Pad whose pads are a Constant, readable by every ONNX tool as is.

    PyTorch's own symbolic for ``F.pad`` builds the pads at run time (ConstantOfShape → Concat → Reshape → Slice →
    Transpose → Cast) even for constant integers: onnx2tf mis-reads that chain (issue 11), and only a
    simplifier could fold it. Used only while exporting; training and inference run plain ``F.pad``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
        return F.pad(x, pads)

    @staticmethod
    def symbolic(g, x, pads: tuple[int, int, int, int]):
        left, right, top, bottom = pads  # ONNX order: all starts (N, C, H, W), then all ends
        onnx_pads = g.op("Constant", value_t=torch.tensor([0, 0, top, left, 0, 0, bottom, right], dtype=torch.int64))
        return g.op("Pad", x, onnx_pads, mode_s="constant")


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding: extra padding goes bottom/right when it cannot be symmetric.

    TF-ported weights (timm's ``tf_*``, lukemelas' ports) only reproduce their outputs with it. The padding is
    computed in Python integers from the input's static size, so an exported graph holds one constant Pad per
    conv. Computed from traced shape tensors instead, the exporter emits a Shape→Gather→Div→Cast subgraph per
    conv that onnxslim folds to wrong pads and onnx2tf mis-reads (issue 11); see also :class:`_ExportPad`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (int(x.shape[-2]), int(x.shape[-1]))  # int(): a constant under tracing, never a Shape op
        pads = same_pads(size, self.kernel_size, self.stride, self.dilation)
        if any(pads):
            x = _ExportPad.apply(x, pads) if torch.onnx.is_in_onnx_export() else F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def make_conv(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False, same: bool = False
) -> nn.Conv2d:
    """A conv whose padding is PyTorch-symmetric, or TF "SAME" where that differs (stride > 1)."""
    if same and stride > 1:
        return Conv2dSame(cin, cout, kernel, stride, padding=0, groups=groups, bias=bias)
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=bias)


class ConvBnAct(nn.Module):
    """conv → batch norm → activation (``act=None`` for the linear projection)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "silu",
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.01,
        same: bool = False,
    ) -> None:
        super().__init__()
        self.conv = make_conv(cin, cout, kernel, stride, groups, same=same)
        self.bn = nn.BatchNorm2d(cout, eps=bn_eps, momentum=bn_momentum)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Channel attention: global pool → reduce → act → expand → sigmoid gate."""

    def __init__(self, channels: int, reduced: int, act: str = "silu") -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = make_act(act)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class MBConv(nn.Module):
    """Inverted residual (``ir``/``ds``) or fused (``er``) block.

    - ``ir``: 1×1 expand → k×k depthwise → SE → 1×1 project.
    - ``ds``: the ``ir`` block with expand ratio 1 (no expand conv).
    - ``er``: k×k full conv expand → SE → 1×1 project: faster on the Edge TPU at high resolution.
    """

    def __init__(
        self,
        block: str,
        cin: int,
        cout: int,
        kernel: int,
        stride: int,
        mid: int,
        se_channels: int,
        act: str,
        skip: bool = True,
        drop_path: float = 0.0,
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.01,
        same: bool = False,
    ) -> None:
        super().__init__()
        norm = dict(bn_eps=bn_eps, bn_momentum=bn_momentum, same=same)
        self.block_type = block
        if block == "er":
            self.expand = ConvBnAct(cin, mid, kernel, stride, act=act, **norm)
            self.depthwise = None
        else:
            self.expand = ConvBnAct(cin, mid, 1, act=act, **norm) if block == "ir" else None
            self.depthwise = ConvBnAct(mid, mid, kernel, stride, groups=mid, act=act, **norm)
        self.se = SqueezeExcite(mid, se_channels, act) if se_channels else None
        self.project = ConvBnAct(mid, cout, 1, act=None, **norm)
        self.has_skip = skip and stride == 1 and cin == cout
        self.drop_path = None
        if self.has_skip and drop_path > 0:
            # imported here: torchvision costs ~5 s at start-up, and inference-only processes never need it
            from torchvision.ops import StochasticDepth

            self.drop_path = StochasticDepth(drop_path, "row")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.expand is not None:
            x = self.expand(x)
        if self.depthwise is not None:
            x = self.depthwise(x)
        if self.se is not None:
            x = self.se(x)
        x = self.project(x)
        if self.has_skip:
            if self.drop_path is not None:
                x = self.drop_path(x)
            x = x + shortcut
        return x
