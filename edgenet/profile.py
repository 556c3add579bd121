"""Parameter and MAC counts measured on the module graph, not read from a table.

MACs come from ``torch.utils.flop_counter`` (convolutions and matmuls, FLOPs = 2 × MACs) run on the ``meta``
device: no memory is allocated and no arithmetic done, so even B7 at 600 px is counted in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from edgenet.models import Variant, create_model, get_variant


@dataclass(frozen=True)
class ModelProfile:
    name: str
    resolution: int
    width_mult: float
    depth_mult: float
    dropout: float
    params: int
    macs: int


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: torch.nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (module must accept a meta tensor)."""
    device = next(model.parameters()).device
    x = torch.empty(1, in_channels, resolution, resolution, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    return counter.get_total_flops() // 2


def profile_variant(
    variant: str | Variant, num_classes: int = 1000, resolution: int | None = None, **overrides
) -> ModelProfile:
    """Params and MACs of a variant at its native (or the given) resolution."""
    v = variant if isinstance(variant, Variant) else get_variant(variant)
    res = resolution or v.resolution
    with torch.device("meta"):
        model = create_model(v, num_classes=num_classes, **overrides)
    return ModelProfile(
        name=v.name,
        resolution=res,
        width_mult=v.width_mult,
        depth_mult=v.depth_mult,
        dropout=v.dropout,
        params=count_params(model),
        macs=count_macs(model, res),
    )
