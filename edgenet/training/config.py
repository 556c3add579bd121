"""What defines a training run, and how ``--resume`` reconciles the options given with the run's own."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from edgenet.checkpoint import Checkpoint, load_checkpoint
from edgenet.devices import available_cpus
from edgenet.errors import EdgenetError
from edgenet.models import get_variant


def default_workers() -> int:
    """Data-loading processes: the CPUs this process may run on, shared among torchrun's processes on this machine.

    A fixed 4 on a 2-core machine made PyTorch warn all run long and the workers compete with training itself.
    """
    return max(1, available_cpus() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


@dataclass
class TrainConfig:
    """Everything that defines a run; saved in ``last.pt`` so that ``--resume`` needs only the run folder."""

    data: str | None = None
    out: str = "runs/train"
    # the network: a registry name, or initial weights (an edgenet checkpoint, a peer's state dict, --pretrained)
    model: str | None = None
    checkpoint: str | None = None
    weights: str | None = None
    weights_format: str = "auto"
    pretrained: str | None = None  # "" means --model's own ImageNet weights
    phi: float | None = None
    num_classes: int | None = None  # only checked: the class folders decide
    img_size: int | None = None
    act: str | None = None  # swap the activation (relu6, hardswish, …); weights load since activations have none
    val: str | None = None
    val_split: float = 0.1
    epochs: int = 10
    batch_size: int = 64  # per process; the learning rate is scaled with batch_size × processes
    lr: float | None = None  # None: the recipe's, scaled with the batch
    recipe: str | None = None  # None: "finetune" when starting from weights, else "paper"
    freeze_backbone: bool = False
    augment: str | None = None  # None: the recipe's
    min_crop: float = 0.08  # smallest area fraction of RandomResizedCrop
    warmup_epochs: float | None = None  # None: the recipe's, at most a tenth of the run
    label_smoothing: float | None = None  # None: the recipe's
    drop_path: float | None = None  # stochastic depth rate; None: the recipe's
    dropout: float | None = None  # before the classifier; None: the variant's
    ema: bool | None = None  # None: the recipe's
    bn_recal: int = 20  # batches of training images that re-estimate the deployed weights' BN statistics; 0: off
    seed: int = 0
    # how, not what: these may change on --resume
    resume: bool = False
    workers: int = field(default_factory=default_workers)
    device: str = "auto"
    amp: bool = False
    progress: bool = True


# Settings that may differ when a run is resumed; everything else must match the run's own.
_RESUMABLE = {"data", "val", "out", "epochs", "resume", "workers", "device", "amp", "progress"}
_INIT_WEIGHTS = {"checkpoint", "weights", "weights_format", "pretrained", "phi"}  # used once, at the start


@dataclass
class TrainResult:
    out: str
    model: str
    recipe: str
    classes: list[str]
    epochs_done: int
    steps: int
    interrupted: bool
    last: str
    best: str | None
    best_val_top1: float | None
    metrics: dict  # the last completed epoch's line of metrics.jsonl
    skipped_train: int
    skipped_val: int
    signal: str | None = None  # what interrupted the run: "SIGINT" or "SIGTERM"


def resume_config(cfg: TrainConfig, path: Path) -> tuple[TrainConfig, Checkpoint]:
    """The run's own settings from ``last.pt``; a given option that contradicts them is an error, not a new run."""
    ckpt = load_checkpoint(path, with_train_state=True)
    ts = ckpt.train_state
    if not ts or "config" not in ts:
        raise EdgenetError(f"{path}: holds no training state (best.pt has only weights); resume from last.pt")
    saved = TrainConfig(**ts["config"])
    if cfg.model is not None and get_variant(cfg.model).name != get_variant(ckpt.model_name).name:
        raise EdgenetError(f"{path}: the run trains {ckpt.model_name}, but --model {cfg.model} was given")
    default = TrainConfig()
    merged = {}
    for f in fields(TrainConfig):
        given, old = getattr(cfg, f.name), getattr(saved, f.name)
        changed = given != getattr(default, f.name)
        if changed and f.name not in _RESUMABLE | _INIT_WEIGHTS | {"model"} and given != old:
            flag = f.name.replace("_", "-")
            raise EdgenetError(
                f"{path}: --{flag} {given} differs from the run's {old}; drop it to continue the run as it was, "
                "or start a new run in another --out"
            )
        merged[f.name] = given if changed and f.name in _RESUMABLE else old
    return TrainConfig(**{**merged, "resume": True, "out": cfg.out}), ckpt
