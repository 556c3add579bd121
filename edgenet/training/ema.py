"""Exponential moving average of the weights, on top of ``torch.optim.swa_utils.AveragedModel``.

The decay follows TensorFlow's ``ExponentialMovingAverage(decay, num_updates)`` that the reference implementation
used: ``min(decay, (1 + n) / (10 + n))``, so the average tracks the weights closely early on instead of dragging
the random initialisation along for thousands of steps. Batch-norm running statistics are averaged as well
(``use_buffers=True``), as the reference does with its moving mean/variance.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_decay_at(decay: float, n_averaged: int) -> float:
    return min(decay, (1 + n_averaged) / (10 + n_averaged))


def create_ema(model: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of ``model``; call ``.update_parameters(model)`` after each optimizer step."""

    def multi_avg_fn(ema_params: list[torch.Tensor], params: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        if not ema_params[0].is_floating_point():  # num_batches_tracked: follow the model
            torch._foreach_copy_(ema_params, params)
            return
        torch._foreach_lerp_(ema_params, params, 1.0 - ema_decay_at(decay, int(n_averaged)))

    return AveragedModel(model, multi_avg_fn=multi_avg_fn, use_buffers=True)
