"""Training recipes as data: the paper's from-scratch setup and a fine-tuning one.

``paper`` follows EfficientNet (Tan & Le, 2019) and its reference TPU implementation: RMSProp (decay 0.9,
momentum 0.9, ε 1e-3), batch-norm momentum 0.99 (TF convention; 0.01 in PyTorch's), weight decay 1e-5, learning
rate 0.256 per 4096 images scaled linearly with the batch, linear warm-up then ×0.97 every 2.4 epochs,
stochastic depth 0.2, the variant's dropout, label smoothing 0.1 and an exponential moving average of the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from edgenet.errors import EdgenetError


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str  # "rmsprop" | "adamw"
    lr: float  # at ``lr_batch`` images per step; scaled linearly with the real (global) batch
    lr_batch: int
    weight_decay: float
    warmup_epochs: float  # capped at a tenth of the run (see default_warmup), so short runs still decay
    schedule: str  # "exponential" (×decay_rate every decay_epochs) | "cosine"
    label_smoothing: float
    drop_path_rate: float
    ema_decay: float | None  # None: no EMA
    augment: str
    decay_rate: float = 0.97
    decay_epochs: float = 2.4
    bn_momentum: float = 0.01  # PyTorch's convention: TF's 0.99


RECIPES = {
    "paper": Recipe(
        "paper",
        "rmsprop",
        lr=0.256,
        lr_batch=4096,
        weight_decay=1e-5,
        warmup_epochs=5,
        schedule="exponential",
        label_smoothing=0.1,
        drop_path_rate=0.2,
        ema_decay=0.9999,
        augment="randaugment",
    ),
    "finetune": Recipe(
        "finetune",
        "adamw",
        lr=1e-3,
        lr_batch=256,
        weight_decay=0.01,
        warmup_epochs=1,
        schedule="cosine",
        label_smoothing=0.1,
        drop_path_rate=0.1,
        ema_decay=None,
        augment="randaugment",
    ),
}

# TF's RMSProp adds ε inside the square root (sqrt(ms + ε)), PyTorch's outside (sqrt(ms) + ε): the paper's 1e-3
# corresponds to sqrt(1e-3) here for gradients small enough to matter.
TF_RMSPROP_EPS = 1e-3


def tf_style_rmsprop(groups: list[dict], lr: float) -> torch.optim.RMSprop:
    """PyTorch's RMSprop started like TensorFlow's: the mean square begins at 1, not 0.

    From 0, the first steps divide each gradient by about ``sqrt(0.1)·|g|``, i.e. every weight moves by ~3×lr in
    the sign of its gradient, which blows a freshly initialised EfficientNet's activations up (the reason timm ships
    an ``RMSpropTF``). Pre-filling the state that ``RMSprop`` would create lazily gives TF's behaviour with the
    stock optimizer.
    """
    opt = torch.optim.RMSprop(groups, lr=lr, alpha=0.9, momentum=0.9, eps=math.sqrt(TF_RMSPROP_EPS))
    for group in opt.param_groups:
        for p in group["params"]:
            opt.state[p] = {
                "step": torch.zeros((), dtype=torch.float32),
                "square_avg": torch.ones_like(p),
                "momentum_buffer": torch.zeros_like(p),
            }
    return opt


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise EdgenetError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}") from None


def scaled_lr(recipe: Recipe, global_batch: int) -> float:
    """The linear scaling rule: the recipe's rate per ``lr_batch`` images, times ``global_batch / lr_batch``."""
    return recipe.lr * global_batch / recipe.lr_batch


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay conv/linear weights only: batch-norm scales/offsets and biases (1-D tensors) are not regularised."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(recipe: Recipe, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    groups = param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "rmsprop":
        return tf_style_rmsprop(groups, lr)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def default_warmup(recipe: Recipe, epochs: int) -> float:
    """Warm-up epochs of a new run: the recipe's, at most a tenth of the run.

    Fixed when the run starts and saved with it, so that extending a run with ``--resume --epochs N`` keeps the
    schedule it had so far (the paper's exponential decay does not depend on the run's length at all).
    """
    return min(recipe.warmup_epochs, 0.1 * epochs)


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int, epochs: int, warmup_epochs: float) -> float:
    """Multiplier of the peak rate at optimizer step ``step`` (0-based): linear warm-up, then the decay."""
    total = max(1, steps_per_epoch * epochs)
    warmup = warmup_epochs * steps_per_epoch
    if step < warmup:
        return min(1.0, (step + 1) / warmup)
    if recipe.schedule == "exponential":
        return recipe.decay_rate ** math.floor(step / steps_per_epoch / recipe.decay_epochs)
    if recipe.schedule == "cosine":
        t = (step - warmup) / max(1.0, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def build_scheduler(
    recipe: Recipe, optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int, warmup_epochs: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per optimizer step; its state (the step count) is saved for an exact resume."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(recipe, s, steps_per_epoch, epochs, warmup_epochs)
    )
