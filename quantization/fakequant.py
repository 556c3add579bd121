"""TFLite's int8 activation quantization, simulated in PyTorch on a BN-folded EfficientNet.

TFLite quantizes every op output per tensor, asymmetric over [-128, 127] with zero exactly representable, and fuses
ReLU/ReLU6 into the conv before it (so the clipped output is what gets quantized) while SiLU and hard-swish are ops
of their own (the conv's raw output is quantized, then the activation's). The points simulated here follow that:

- a block's conv → BN → act module: its output; with SiLU/hard-swish also the conv's output before the activation;
- squeeze-excite: the reduce conv (and its activation), the expand conv, the gated output;
- a residual block's output (the ADD), the global pool, the classifier's logits, and the network's input.

TFLite also quantizes inside SiLU (x · LOGISTIC(x), the LOGISTIC's output on a fixed grid of step 1/256 from 0) and
the squeeze-excite gate's sigmoid on the same grid; both are simulated, as a B0 has 65 of them and a gate of 0.01
held at 1/256 steps is 20 % off. Ranges are measured on the float network over the calibration images, each
point's min/max or what ``--calibration percentile|mse`` picks from its histogram (the converter's rules, from
:mod:`edgenet.quantization.calibration_methods`). Rounding ties go to even here and away from zero in TFLite: a
difference on exact ties only.

Used by AdaRound (:mod:`edgenet.quantization.rounding`: each layer's inputs then carry the activation error of the
layers before it) and by quantization-aware fine-tuning (:mod:`edgenet.quantization.qat`), whose gradients pass
straight through the rounding within the range and stop outside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

FUSED = (nn.ReLU, nn.ReLU6, nn.Identity)  # activations TFLite folds into the op before them


def fake_quant(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``x`` on the int8 grid of [lo, hi] (widened to hold 0), straight-through within the range."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return x
    scale = (hi - lo) / 255
    zero = round(-128 - lo / scale)
    q = torch.clamp(torch.round(x / scale) + zero, -128, 127)
    y = (q - zero) * scale
    inside = (x >= (-128 - zero) * scale) & (x <= (127 - zero) * scale)
    return torch.where(inside, x + (y - x).detach(), y.detach()) if x.requires_grad else y


def _logistic(x: torch.Tensor) -> torch.Tensor:
    """sigmoid(x) as TFLite's int8 LOGISTIC outputs it: step 1/256, zero point -128 (so [0, 255/256])."""
    return fake_quant(torch.sigmoid(x), 0.0, 255 / 256)


def points(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs TFLite quantizes (see the module docstring), in module order."""
    from edgenet.models.blocks import ConvBnAct, MBConv, SqueezeExcite

    out: list[nn.Module] = []
    for mod in model.modules():
        if isinstance(mod, ConvBnAct):
            if not isinstance(mod.act, FUSED):
                out.append(mod.conv)
            out.append(mod)
        elif isinstance(mod, SqueezeExcite):
            out += [mod.reduce] if isinstance(mod.act, FUSED) else [mod.reduce, mod.act]
            out += [mod.expand, mod]
        elif (isinstance(mod, MBConv) and mod.has_skip) or isinstance(mod, (nn.AdaptiveAvgPool2d, nn.Linear)):
            out.append(mod)
    return out


class ActivationQuant:
    """Min/max observation, then fake quantization, of every TFLite quantization point of ``model`` (hooks)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.mods = points(model)
        self.ranges: dict[int, list[float]] = {}  # id(module) → [lo, hi]; -1: the network's input

    @contextlib.contextmanager
    def _hooks(self, fn, logistic: bool = False) -> Iterator[None]:
        """``fn(key, output)`` on every point's output; ``logistic``: TFLite's LOGISTIC grid inside SiLU and the
        squeeze-excite gate too, before the points' own quantization of what they give."""
        from edgenet.models.blocks import SqueezeExcite

        silus = [m for m in self.model.modules() if isinstance(m, nn.SiLU)] if logistic else []
        ses = [m for m in self.model.modules() if isinstance(m, SqueezeExcite)] if logistic else []
        inplace = [m.inplace for m in silus]
        gate: dict[int, torch.Tensor] = {}  # SE module → its expand conv's (quantized) output
        handles = [m.register_forward_hook(lambda mod, args, out: args[0] * _logistic(args[0])) for m in silus]
        handles += [m.register_forward_hook(lambda mod, args, out: args[0] * _logistic(gate.pop(id(mod)))) for m in ses]
        handles += [m.register_forward_hook(lambda mod, args, out: fn(id(mod), out)) for m in self.mods]
        for m in ses:  # after the points: the expand conv's output as quantized
            handles.append(m.expand.register_forward_hook(lambda mod, args, out, k=id(m): gate.__setitem__(k, out)))
        handles.append(self.model.register_forward_pre_hook(lambda mod, args: (fn(-1, args[0]), *args[1:])))
        for m in silus:
            m.inplace = False  # the hook needs SiLU's input
        try:
            yield
        finally:
            for h in handles:
                h.remove()
            for m, was in zip(silus, inplace, strict=True):
                m.inplace = was

    def observe(self, images, batch: int = 16, calibration: str = "minmax") -> ActivationQuant:
        """Record each point's range over ``images`` (NCHW) on the float network: its min/max, or what
        ``calibration`` (``--calibration METHOD[:PARAM]``) picks from its histogram, as the converter will — the
        network's input and logits keep min/max there too (:func:`edgenet.quantization.ranges.boundary_tensors`)."""
        from edgenet.quantization.calibration_methods import parse_method
        from edgenet.quantization.ranges import BINS

        method, param = parse_method(calibration)

        def seen(key: int, x: torch.Tensor) -> torch.Tensor:
            lo, hi = float(x.min()), float(x.max())
            r = self.ranges.setdefault(key, [lo, hi])
            r[0], r[1] = min(r[0], lo), max(r[1], hi)
            return x

        hists: dict[int, torch.Tensor] = {}

        def counted(key: int, x: torch.Tensor) -> torch.Tensor:
            lo, hi = self.ranges[key]
            h = torch.histc(x.detach().float(), BINS, lo, hi)
            hists[key] = hists[key] + h if key in hists else h
            return x

        passes = [seen] if method.choose is None else [seen, counted]
        for fn in passes:
            with self._hooks(fn), torch.no_grad():
                for i in range(0, len(images), batch):
                    self.model(torch.from_numpy(np.ascontiguousarray(images[i : i + batch], dtype=np.float32)))
        boundary = {-1} | {id(m) for m in self.mods if isinstance(m, nn.Linear)}
        for key, h in hists.items():
            lo, hi = self.ranges[key]
            if key not in boundary and hi > lo and h.sum() > 0:
                self.ranges[key] = [float(v) for v in method.choose(h.numpy(), lo, hi, param)]
        self._inplace_adds()
        return self

    def _inplace_adds(self) -> None:
        """TFLite runs a residual ADD in place, into its branch's buffer, and its calibrator logs that input after
        the op ran: the branch's recorded range is the union of its own and the sum's (see
        :mod:`edgenet.quantization.observer`). The int8 model quantizes the branch with that range, so does this."""
        from edgenet.models.blocks import MBConv

        for mod in self.model.modules():
            if isinstance(mod, MBConv) and mod.has_skip and id(mod.project) in self.ranges and id(mod) in self.ranges:
                branch, out = self.ranges[id(mod.project)], self.ranges[id(mod)]
                branch[0], branch[1] = min(branch[0], out[0]), max(branch[1], out[1])

    def on(self, model: nn.Module | None = None):
        """A context in which ``model`` (a copy of the observed network, module for module; default the observed
        one) runs with every point fake-quantized to the observed ranges."""
        t = self if model is None else self.for_copy(model)
        return t._hooks(lambda key, x: fake_quant(x, *t.ranges[key]) if key in t.ranges else x, logistic=True)

    def for_copy(self, model: nn.Module) -> ActivationQuant:
        """The same ranges on ``model``, a structural copy of the observed network."""
        other = ActivationQuant(model)
        if len(other.mods) != len(self.mods):
            raise ValueError("fake quantization: the model is not a copy of the observed one")
        keys = {id(a): id(b) for a, b in zip(self.mods, other.mods, strict=True)}
        other.ranges = {keys.get(k, k): list(v) for k, v in self.ranges.items()}
        return other
