"""edgenet's checkpoint: weights plus everything needed to use them without repeating options.

A checkpoint is a ``torch.save`` dict (read with ``weights_only=True``: loading one runs no code)::

    {"format": "edgenet.checkpoint", "version": 1,
     "model": {"name": "efficientnet_b0", "config": ModelConfig.to_dict()},
     "classes": ["cat", "dog", ...] | None,
     "preprocess": Preprocess.to_dict(),
     "state_dict": {...},               # the weights to deploy (EMA weights when training kept an EMA)
     "train_state": {...} | None,       # optimizer, scheduler, EMA, scaler, RNG, epoch: for --resume only
     "metrics": {...}}

``convert``, ``eval``, ``bench`` and ``bundle`` read model, classes and preprocessing from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from edgenet import __version__
from edgenet.atomic import atomic_path
from edgenet.errors import EdgenetError
from edgenet.models import EfficientNet, ModelConfig, get_variant
from edgenet.models.efficientnet import EfficientNet as _EfficientNet
from edgenet.preprocess import Preprocess

FORMAT, VERSION = "edgenet.checkpoint", 1


@dataclass
class Checkpoint:
    model_name: str
    config: ModelConfig
    preprocess: Preprocess
    state_dict: dict[str, torch.Tensor]
    classes: list[str] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None
    path: Path | None = None

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def build(self) -> EfficientNet:
        """The network with these weights, in eval mode."""
        model = _EfficientNet(self.config)
        model.variant_name = self.model_name
        model.default_resolution = self.preprocess.resolution
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> Path:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "edgenet_version": __version__,
        "model": {"name": ckpt.model_name, "config": ckpt.config.to_dict()},
        "classes": list(ckpt.classes) if ckpt.classes is not None else None,
        "preprocess": ckpt.preprocess.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.state_dict.items()},
        "train_state": ckpt.train_state,
        "metrics": ckpt.metrics,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, with_train_state: bool = False) -> Checkpoint:
    """Read and validate an edgenet checkpoint; every failure is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise EdgenetError(f"{path}: checkpoint not found")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        from edgenet.weights import load_failure

        raise EdgenetError(f"{path}: not a readable checkpoint ({load_failure(e)})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise EdgenetError(
            f"{path}: not an edgenet checkpoint (plain state dicts from torchvision/timm go to --weights)"
        )
    if d.get("version", 0) > VERSION:
        raise EdgenetError(f"{path}: checkpoint version {d['version']} is newer than this edgenet; upgrade")
    try:
        cfg = ModelConfig.from_dict(d["model"]["config"])
        ckpt = Checkpoint(
            model_name=d["model"]["name"],
            config=cfg,
            preprocess=Preprocess.from_dict(d["preprocess"]),
            state_dict=d["state_dict"],
            classes=d.get("classes"),
            metrics=d.get("metrics") or {},
            train_state=d.get("train_state") if with_train_state else None,
            path=path,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise EdgenetError(f"{path}: checkpoint is missing or has a bad field ({e})") from None
    if not isinstance(ckpt.state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.state_dict.values()):
        raise EdgenetError(f"{path}: checkpoint's state_dict is not a dict of tensors; the file is damaged")
    from edgenet.weights import refuse_non_finite

    refuse_non_finite(ckpt.state_dict, str(path))
    if ckpt.classes is not None and len(ckpt.classes) != cfg.num_classes:
        raise EdgenetError(f"{path}: {len(ckpt.classes)} class names but the model has {cfg.num_classes} outputs")
    return ckpt


def checkpoint_from_model(
    model: EfficientNet,
    classes: list[str] | None = None,
    preprocess: Preprocess | None = None,
    metrics: dict | None = None,
) -> Checkpoint:
    """Wrap a live model (e.g. freshly imported weights) as a checkpoint."""
    name = getattr(model, "variant_name", "custom")
    res = getattr(model, "default_resolution", None) or get_variant(name).resolution
    return Checkpoint(
        model_name=name,
        config=model.config,
        preprocess=preprocess or Preprocess(resolution=res),
        state_dict=model.state_dict(),
        classes=classes,
        metrics=metrics or {},
    )
