"""Quantization-aware fine-tuning to full-integer TFLite, on the calibration images, before export.

The network is fine-tuned as TFLite will run it: BatchNorm folded into the convolutions (what TFLite's converter
does), every weight fake-quantized on TFLite's per-channel symmetric int8 grid and every activation at TFLite's
quantization points (:mod:`edgenet.quantization.fakequant`; ranges observed on the float network, fixed), with
gradients passed straight through the rounding. The loss is the float network's own answers (distillation: the KL
divergence of the softmax outputs), so no labels are needed and the images are the calibration set the int8 model
is calibrated on anyway, each seen flipped too. The result goes on through :func:`round_weights` (nearest, or
AdaRound when asked), so its weights lie on the grid and the one conversion spine makes the full-integer
``.tflite`` (which the Edge TPU maps whole) from them, with its activation ranges calibrated as usual.

The learned model differs from PyTorch's own QAT flows (``torch.ao``, PT2E) in one point that matters here: those
quantize ReLU6 outputs with observers TFLite does not place, and their conversion goes to their runtimes, not to
a ``.tflite``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from edgenet.errors import EdgenetError
from edgenet.progress import SILENT, Progress


@dataclass
class QatRun:
    """What :func:`qat_finetune` did, for report.json (``qat``)."""

    epochs: int
    steps: int
    images: int
    batch_size: int
    lr: float
    loss_first: float  # distillation loss (KL, nats) of the first step and the mean of the last epoch
    loss_last: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class _OnGrid(nn.Module):
    """A weight as TFLite stores it: per output channel, symmetric, 127 steps a side (straight-through)."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        from edgenet.quantization.rounding import QMAX, grid_step

        step = grid_step(w).reshape(-1, *[1] * (w.ndim - 1))
        return w + (torch.clamp(torch.round(w / step), -QMAX, QMAX) * step - w).detach()


def qat_finetune(
    model: nn.Module,
    images,
    epochs: int,
    lr: float = 1e-5,
    batch_size: int = 16,
    progress: Progress = SILENT,
    seed: int = 0,
    calibration: str = "minmax",
) -> tuple[nn.Module, QatRun]:
    """A BN-folded copy of ``model`` fine-tuned for ``epochs`` passes over ``images`` (NCHW calibration samples)
    with weights and activations fake-quantized as TFLite quantizes them, at the ranges ``calibration`` (the
    conversion's ``--calibration``) will give them; ``model`` is untouched."""
    from edgenet.quantization.fakequant import ActivationQuant
    from edgenet.quantization.rounding import _layers, fold_batchnorm

    if epochs < 1:
        raise EdgenetError(f"--qat-epochs {epochs}: give 1 or more")
    if len(images) < 2:
        raise EdgenetError("quantization-aware fine-tuning needs 2 or more calibration images: pass --calib-data")
    t0 = time.perf_counter()
    teacher = fold_batchnorm(copy.deepcopy(model)).eval()
    student = copy.deepcopy(teacher).eval()  # eval: BN is folded, dropout and stochastic depth stay off
    acts = ActivationQuant(teacher).observe(images, calibration=calibration).for_copy(student)
    for _, layer in _layers(student):
        parametrize.register_parametrization(layer, "weight", _OnGrid())
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(images)
    per_epoch = max(1, -(-2 * n // batch_size))  # every image and its mirror once an epoch
    losses: list[float] = []
    with acts.on():
        for _ in progress.iterate(range(epochs), "quantization-aware fine-tuning", epochs, "epoch"):
            order = torch.randperm(2 * n, generator=gen)
            for b in range(per_epoch):
                pick = order[b * batch_size : (b + 1) * batch_size]
                x = torch.from_numpy(np.stack([np.asarray(images[int(i) % n], np.float32) for i in pick]))
                flip = (pick >= n).reshape(-1, 1, 1, 1)
                x = torch.where(flip, x.flip(-1), x)
                with torch.no_grad():
                    target = F.log_softmax(teacher(x), 1)
                loss = F.kl_div(F.log_softmax(student(x), 1), target, log_target=True, reduction="batchmean")
                if not torch.isfinite(loss):
                    raise EdgenetError("quantization-aware fine-tuning diverged (loss is not finite): lower --qat-lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss))
    for _, layer in _layers(student):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    for p in student.parameters():
        p.requires_grad_(False)
    return student, QatRun(
        epochs, len(losses), n, batch_size, lr, round(losses[0], 5), round(float(np.mean(losses[-per_epoch:])), 5),
        round(time.perf_counter() - t0, 2),
    )  # fmt: skip
