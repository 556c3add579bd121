"""Weights rounded for int8 before export: AdaRound and empirical bias correction, in PyTorch.

TFLite's quantizer rounds every weight to the nearest point of its output channel's grid (symmetric, 127 steps
each side of zero, step = the channel's largest magnitude / 127). Nearest is not what the network needs: the best
integers are the ones that keep each layer's *output* closest to the float one (AdaRound, Nagel et al. 2020), and
what rounding still shifts on average is a per-channel constant a bias can take back (bias correction, Nagel et
al. 2019; AIMET's and NNCF's "empirical" variant, measured on the calibration images).

Both run here on the PyTorch network, with BatchNorm folded into the convolutions first (its scale would
otherwise move the weights off the grid in TFLite's own folding), and leave *float* weights that lie exactly on
TFLite's grid: the export, onnx2tf and the quantizer carry them unchanged, and the quantizer's nearest rounding
of ``q × step`` is ``q``, so the ``.tflite`` holds the integers chosen here, bit for bit
(``tests/quantization/test_rounding.py``). Every kind built from the network (fp16, ExecuTorch, the Q/DQ ONNX)
gets the same weights.

Layers are rounded in execution order, each against the float network's output on inputs that come from the
network rounded so far (the "asymmetric" reconstruction of the AdaRound paper), so a layer also corrects what
the layers before it got wrong. Each layer's problem is solved on a sample of output positions (im2col rows), not
whole images: that keeps one iteration a small matrix product, and AdaRound on Lite0 within minutes on 2 cores.

One rule of TFLite's quantizer is reproduced: where a channel's bias would not fit in int32 at ``input step ×
weight step`` (a channel whose weights are ~0 next to a large bias: a dead channel after BN folding), TFLite
widens that channel's weight step, which would round its weights differently; those weights are set to zero
here, which is what that channel's int8 output is anyway.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from edgenet.quantization.recipe import ROUNDINGS
from torch import nn

from edgenet.errors import EdgenetError
from edgenet.progress import SILENT, Progress

QMAX = 127  # TFLite's int8 weights: symmetric, narrow range [-127, 127]
BIAS_MAX = (2**31 - 1) // 2  # TFLite widens a channel's weight step where |bias| / (input step × weight step) > this
DEAD = 1e-3  # a channel whose weights move its output by less than this × |bias| is written as zeros
ZETA, GAMMA = 1.1, -0.1  # AdaRound's rectified sigmoid stretch
ROWS = 8192  # output positions sampled per layer (im2col rows) for AdaRound's reconstruction
BATCH = 1024  # rows per AdaRound iteration


@dataclass
class LayerRounding:
    name: str
    weights: int
    error_nearest: float  # the layer output's squared error with nearest rounding, relative to its energy
    error: float  # the same with the weights written (AdaRound's, or nearest)
    flipped: float  # fraction of weights rounded the other way than nearest
    zeroed_channels: int  # channels TFLite would widen for their bias (set to zero)
    seconds: float


@dataclass
class WeightRounding:
    """What :func:`round_weights` did, for report.json (``weight_rounding``)."""

    rounding: str
    bias_correction: bool
    activations: bool  # inputs taken with the activations quantized upstream
    iterations: int
    images: int
    layers: int
    seconds: float
    seconds_per_layer: float
    zeroed_channels: int
    mean_error_nearest: float
    mean_error: float
    per_layer: list[LayerRounding] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """``model`` (changed in place) with every conv → BatchNorm pair folded into the conv's weight and bias.

    Folding is what TFLite's converter does too; doing it here puts the folded weights, not the unfolded ones,
    on the int8 grid. Pairs are the ``conv``/``bn`` children of one module (edgenet's ``ConvBnAct``)."""
    for mod in model.modules():
        conv, bn = getattr(mod, "conv", None), getattr(mod, "bn", None)
        if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
            continue
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
            conv.bias = nn.Parameter(bias.detach().clone())
        mod.bn = nn.Identity()
    return model


def grid_step(weight: torch.Tensor) -> torch.Tensor:
    """TFLite's per-output-channel weight step: the channel's largest magnitude / 127 (1 for an all-zero one)."""
    step = weight.detach().reshape(weight.shape[0], -1).abs().amax(1) / QMAX
    return torch.where(step > 0, step, torch.ones_like(step))


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv and linear layers in execution order (one traced forward would be slower; the order of first call
    equals module order in edgenet's networks, and the stem/classifier ends are what matter for the rows)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


class _Stop(Exception):
    pass


def _padded(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` padded as ``layer`` pads it (TF "SAME" for edgenet's ``Conv2dSame``)."""
    from edgenet.models.blocks import Conv2dSame, same_pads

    if isinstance(layer, Conv2dSame):
        return F.pad(x, same_pads(tuple(x.shape[-2:]), layer.kernel_size, layer.stride, layer.dilation))
    ph, pw = layer.padding
    return F.pad(x, (pw, pw, ph, ph)) if ph or pw else x


def _offsets(layer: nn.Conv2d) -> list[tuple[int, int]]:
    (kh, kw), (dh, dw) = layer.kernel_size, layer.dilation
    return [(i * dh, j * dw) for i in range(kh) for j in range(kw)]


def _out_size(layer: nn.Conv2d, xp: torch.Tensor) -> tuple[int, int]:
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.stride, layer.dilation
    return (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1, (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1


def _rows(layer: nn.Module, x: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
    """The inputs of the output positions ``pick`` ((image, y, x) rows) as im2col rows: (P, Cin·k·k), or
    (P, C, k·k) for depthwise — gathered, never unfolded whole (that is k² times the activation)."""
    if isinstance(layer, nn.Linear):
        return x.reshape(-1, x.shape[-1])[pick[:, 0]]
    xp, (sh, sw) = _padded(layer, x), layer.stride
    n, oy, ox = pick.unbind(1)
    rows = torch.stack([xp[n, :, oy * sh + di, ox * sw + dj] for di, dj in _offsets(layer)], -1)  # P, C, k·k
    return rows if _depthwise(layer) else rows.reshape(len(rows), -1)


def _mean_row(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The sum of the im2col rows of every output position (exact, from k² strided slices)."""
    if isinstance(layer, nn.Linear):
        return x.reshape(-1, x.shape[-1]).sum(0)
    xp, (sh, sw) = _padded(layer, x), layer.stride
    ho, wo = _out_size(layer, xp)
    sums = torch.stack(
        [xp[:, :, di : di + sh * (ho - 1) + 1 : sh, dj : dj + sw * (wo - 1) + 1 : sw].sum((0, 2, 3))
         for di, dj in _offsets(layer)], -1)  # fmt: skip
    return sums if _depthwise(layer) else sums.reshape(-1)


def _depthwise(layer: nn.Module) -> bool:
    if isinstance(layer, nn.Linear) or layer.groups == 1:
        return False
    if layer.groups != layer.in_channels or layer.out_channels != layer.in_channels:
        raise EdgenetError(f"weight rounding: grouped conv {layer} is neither dense nor depthwise")
    return True


def _linear(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A layer's output on im2col rows; ``weight`` is (Cout, D) or, depthwise, (C, k·k)."""
    y = (rows * weight).sum(-1) if rows.ndim == 3 else rows @ weight.T
    return y if bias is None else y + bias


@dataclass
class _Inputs:
    """A layer's inputs over all calibration images: sampled im2col rows (AdaRound's reconstruction), the mean
    row (bias correction: a layer is linear, so its mean output is its weight times the mean row) and the range
    (TFLite's input step, for its bias rule)."""

    rows: torch.Tensor
    mean: torch.Tensor
    lo: float
    hi: float

    @property
    def step(self) -> float:
        """TFLite's int8 step of this input (asymmetric, zero included)."""
        return (max(self.hi, 0.0) - min(self.lo, 0.0)) / 255 or 1.0


def _capture(model: nn.Module, names: list[str], images, seed: int, batch: int = 16) -> dict[str, _Inputs]:
    """The inputs of layers ``names`` of ``model`` on ``images``, in one pass that stops after the last of them.

    Which positions are sampled depends only on the layer's index and shapes, so two networks give rows of the
    same positions. A layer gets up to ``ROWS`` rows, fewer where its rows are wide (a 5×5 depthwise over 1152
    channels has 28,800 inputs a row; each channel there has just 25 weights to fit)."""
    order = {n: i for i, (n, _) in enumerate(_layers(model))}
    n_img = len(images)
    state: dict[str, dict] = {n: {"rows": [], "sum": 0.0, "lo": 0.0, "hi": 0.0, "pick": None} for n in names}
    offset = [0]

    def hook_for(name: str, layer: nn.Module):
        def hook(module, args):
            x, st = args[0].detach(), state[name]
            if st["pick"] is None:  # positions over all images, chosen once from the first batch's shapes
                if isinstance(layer, nn.Linear):
                    ho, wo = x.reshape(-1, x.shape[-1]).shape[0] // len(x), 1
                else:
                    ho, wo = _out_size(layer, _padded(layer, x[:1]))
                width = x.shape[1] * (1 if isinstance(layer, nn.Linear) else len(_offsets(layer)))
                want = int(min(ROWS, max(256, 8_000_000 // width), n_img * ho * wo))
                g = torch.Generator().manual_seed(seed * 100_003 + order[name])
                flat = torch.randperm(n_img * ho * wo, generator=g)[:want].sort().values
                st["pick"] = torch.stack([flat // (ho * wo), flat % (ho * wo) // wo, flat % wo], 1)
            pick = st["pick"]
            mine = pick[(pick[:, 0] >= offset[0]) & (pick[:, 0] < offset[0] + len(x))]
            st["rows"].append(_rows(layer, x, mine - torch.tensor([offset[0], 0, 0])))
            st["sum"] = st["sum"] + _mean_row(layer, x)
            st["lo"], st["hi"] = min(st["lo"], float(x.min())), max(st["hi"], float(x.max()))
            st["positions"] = st.get("positions", 0) + len(x) * (
                1 if isinstance(layer, nn.Linear) else math.prod(_out_size(layer, _padded(layer, x[:1])))
            )
            if name == last:
                raise _Stop

        return hook

    last = max(names, key=order.__getitem__)
    handles = [model.get_submodule(n).register_forward_pre_hook(hook_for(n, model.get_submodule(n))) for n in names]
    try:
        with torch.no_grad():
            for i in range(0, n_img, batch):
                offset[0] = i
                with contextlib.suppress(_Stop):
                    model(torch.from_numpy(np.ascontiguousarray(images[i : i + batch], dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
    out = {}
    for n, st in state.items():
        if st["pick"] is None:
            raise EdgenetError(f"weight rounding: layer {n} is never called in the forward pass")
        out[n] = _Inputs(torch.cat(st["rows"]), st["sum"] / st["positions"], st["lo"], st["hi"])
    return out


def _adaround(
    w: torch.Tensor, step: torch.Tensor, b: torch.Tensor | None, x: torch.Tensor, y: torch.Tensor, iterations: int,
    gen: torch.Generator, lr: float = 1e-2, reg: float = 0.01,
) -> torch.Tensor:  # fmt: skip
    """AdaRound's integers for ``w`` (Cout, D): a learned up/down choice per weight minimising the layer's output
    error on rows ``x`` against targets ``y``, pushed to a hard 0/1 by an annealed regulariser."""
    s = step.reshape(-1, *([1] * (w.ndim - 1)))
    floor = torch.floor(w / s)
    rest = (w / s - floor).clamp(0.01, 0.99)
    v = (-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1)).requires_grad_(True)
    opt = torch.optim.Adam([v], lr=lr)
    warmup = int(0.2 * iterations)
    for it in range(iterations):
        pick = torch.randint(len(x), (min(BATCH, len(x)),), generator=gen)
        h = (torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA).clamp(0, 1)
        wq = s * (floor + h).clamp(-QMAX, QMAX)
        loss = (_linear(x[pick], wq, b) - y[pick]).pow(2).sum(1).mean()
        if it >= warmup:  # β anneals 20 → 2: first every weight may move, at the end each must pick a side
            beta = 2 + 18 * (1 - (it - warmup) / max(1, iterations - warmup))
            loss = loss + reg * (1 - (2 * h - 1).abs().pow(beta)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (floor + (v.detach() >= 0).to(w.dtype)).clamp(-QMAX, QMAX)


def _error(x: torch.Tensor, w: torch.Tensor, b, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((_linear(x, w, b) - y).pow(2).sum() / y.pow(2).sum().clamp_min(1e-30))


def _round_layer(
    name: str, layer: nn.Module, w_fp: torch.Tensor, ref: _Inputs, got: _Inputs, rounding: str,
    bias_correction: bool, iterations: int, gen: torch.Generator,
) -> LayerRounding:  # fmt: skip
    """Round one layer in place (weights on the grid, bias corrected); ``ref``/``got``: its inputs in the float
    and the rounded network."""
    w = w_fp.reshape(w_fp.shape[0], -1)  # (Cout, D); depthwise (C, k·k)
    b0 = layer.bias.detach().clone() if layer.bias is not None else None
    y = _linear(ref.rows, w, b0)
    step = grid_step(w)
    nearest = (w / step[:, None]).round().clamp(-QMAX, QMAX)
    error_nearest = _error(got.rows, nearest * step[:, None], b0, y)
    q = nearest if rounding == "nearest" else _adaround(w, step, b0, got.rows, y, iterations, gen)
    # the channel's largest weight keeps ±127: TFLite recomputes the step from the largest magnitude
    top = (w / step[:, None]).abs().argmax(1, keepdim=True)
    q = q.scatter(1, top, nearest.gather(1, top))
    flipped = float((q != nearest).float().mean())
    b = b0
    if bias_correction:
        shift = _linear(ref.mean[None], w, None)[0] - _linear(got.mean[None], q * step[:, None], None)[0]
        b = shift if b is None else b + shift
    zeroed = 0
    if b is not None:
        # TFLite's bias rule, with a factor 2 of margin for the estimated input step; and dead channels, whose
        # weights move the output by under DEAD × |bias| at most: TFLite's converter widens some of those too,
        # from a threshold its graph passes fix (seen: 6× below the rule's), and zero is the answer either way
        wide = b.abs() / (got.step * step) > BIAS_MAX / 2
        reach = (q.abs().sum(1) * step) * max(abs(got.lo), abs(got.hi))
        wide |= reach < DEAD * b.abs()
        zeroed = int(wide.sum())
        q[wide] = 0
    wq = q * step[:, None]
    with torch.no_grad():
        layer.weight.copy_(wq.reshape(layer.weight.shape))
        if b is not None and layer.bias is None:
            layer.bias = nn.Parameter(b.clone())
        elif b is not None:
            layer.bias.copy_(b)
    return LayerRounding(name, w.numel(), error_nearest, _error(got.rows, wq, b, y), flipped, zeroed, 0.0)


def round_weights(
    model: nn.Module,
    images,
    rounding: str = "adaround",
    bias_correction: bool = True,
    iterations: int = 500,
    progress: Progress = SILENT,
    seed: int = 0,
    activations: bool = False,
) -> tuple[nn.Module, WeightRounding]:
    """A copy of ``model`` with BatchNorm folded and every conv/linear weight on TFLite's int8 grid, rounded by
    ``rounding`` (``nearest`` or ``adaround``, on ``images``: NCHW calibration samples), biases corrected for the
    mean shift rounding leaves when ``bias_correction``; and what was done. ``model`` itself is untouched.

    With ``activations`` each layer's inputs in the rounded network are also quantized as TFLite will quantize
    them (:mod:`edgenet.quantization.fakequant`, ranges observed on the float network), so rounding and bias
    correct for the simulated activation error upstream too. Not the default: on the pretrained Lite0 it scored
    no better than float inputs (docs/int8.md), the simulation's rounding being TFLite's in distribution but not
    output for output."""
    if rounding not in ROUNDINGS:
        raise EdgenetError(f"--weight-rounding {rounding}: choose {' or '.join(ROUNDINGS)}")
    if rounding == "adaround" and iterations < 1:
        raise EdgenetError(f"--adaround-iterations {iterations}: give 1 or more (500 is the default)")
    if not len(images):
        raise EdgenetError("weight rounding needs calibration images: pass --calib-data")
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    fp = fold_batchnorm(copy.deepcopy(model)).eval()
    rounded = copy.deepcopy(fp)
    per_layer = []
    layers = _layers(rounded)
    names = [n for n, _ in layers]
    progress.step(f"weight rounding: the float network's inputs of {len(layers)} layers on {len(images)} images")
    reference = _capture(fp, names, images, seed)
    quantized = contextlib.nullcontext
    if activations:
        from edgenet.quantization.fakequant import ActivationQuant

        observed = ActivationQuant(fp).observe(images)
        quantized = lambda: observed.on(rounded)  # noqa: E731
    for name, layer in progress.iterate(layers, f"rounding weights ({rounding})", len(layers), "layer"):
        t1 = time.perf_counter()
        with quantized():
            got = _capture(rounded, [name], images, seed)[name]
        done = _round_layer(name, layer, fp.get_submodule(name).weight.detach(), reference.pop(name), got,
                            rounding, bias_correction, iterations, gen)  # fmt: skip
        done.seconds = round(time.perf_counter() - t1, 3)
        per_layer.append(done)
    seconds = time.perf_counter() - t0
    return rounded, WeightRounding(
        rounding=rounding,
        bias_correction=bias_correction,
        activations=activations,
        iterations=iterations if rounding == "adaround" else 0,
        images=len(images),
        layers=len(per_layer),
        seconds=round(seconds, 2),
        seconds_per_layer=round(seconds / max(1, len(per_layer)), 3),
        zeroed_channels=sum(r.zeroed_channels for r in per_layer),
        mean_error_nearest=float(np.mean([r.error_nearest for r in per_layer])),
        mean_error=float(np.mean([r.error for r in per_layer])),
        per_layer=per_layer,
    )


def integers(model: nn.Module) -> dict[str, np.ndarray]:
    """Each conv/linear layer's int8 weights, in PyTorch's layout, of a model :func:`round_weights` made."""
    out = {}
    for name, layer in _layers(model):
        w = layer.weight.detach()
        q = w.reshape(w.shape[0], -1) / grid_step(w)[:, None]
        out[name] = q.round().to(torch.int8).reshape(w.shape).numpy()
    return out


def tflite_matches(model: nn.Module, tflite: str | Path) -> tuple[int, int]:
    """(layers whose integers the int8 ``.tflite`` holds exactly, layers of ``model``): the proof that the
    quantizer kept the rounding. Matched by value (PyTorch OIHW → TFLite OHWI, or 1HWC for depthwise), so no
    name mapping between the graphs is assumed; two layers' integers are never equal by chance."""
    from edgenet.artifacts.tflite_model import read_tflite

    t = read_tflite(tflite)
    held = {
        str(ti.shape).encode() + t.constant(ti.index).tobytes()
        for ti in t.tensors
        if ti.is_constant and ti.dtype == "int8"
    }
    found = 0
    ints = integers(model)
    for q in ints.values():
        layouts = [q] if q.ndim == 2 else [q.transpose(0, 2, 3, 1), q.transpose(1, 2, 3, 0)]
        found += any(str(a.shape).encode() + np.ascontiguousarray(a).tobytes() in held for a in layouts)
    return found, len(ints)
