"""One builder for the whole family: a stage table plus width/depth multipliers becomes an ``nn.Module``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from edgenet.models.arch import decode_arch
from edgenet.models.blocks import ConvBnAct, MBConv
from edgenet.scaling import round_channels, round_repeats


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; stored in checkpoints, so it is plain data."""

    arch: tuple[str, ...]
    width_mult: float = 1.0
    depth_mult: float = 1.0
    num_classes: int = 1000
    stem_channels: int = 32
    head_channels: int = 1280
    fix_stem_head: bool = False  # Lite: stem and head are not scaled (they dominate latency on small nets)
    fix_first_last_repeats: bool = False  # Lite: first and last stage keep one block
    act: str = "silu"
    dropout: float = 0.2
    drop_path_rate: float = 0.0
    bn_eps: float = 1e-3  # TensorFlow's value; torchvision/timm (non-tf) weights use 1e-5
    bn_momentum: float = 0.01  # PyTorch convention for TF's 0.99
    same_padding: bool = False
    in_channels: int = 3

    def to_dict(self) -> dict:
        d = asdict(self)
        d["arch"] = list(self.arch)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        d["arch"] = tuple(d["arch"])
        return cls(**d)


class EfficientNet(nn.Module):
    """stem → stages of MBConv blocks → 1×1 head → global pool → dropout → linear classifier."""

    def __init__(self, cfg: ModelConfig) -> None:
        from edgenet.validate import model_config

        model_config(cfg)  # bounded size: a class count of 0, or a depth ×100, fails here in one line
        super().__init__()
        self.config = cfg
        norm = dict(bn_eps=cfg.bn_eps, bn_momentum=cfg.bn_momentum, same=cfg.same_padding)
        width = lambda c: round_channels(c, cfg.width_mult)  # noqa: E731
        stem = cfg.stem_channels if cfg.fix_stem_head else width(cfg.stem_channels)
        head = cfg.head_channels if cfg.fix_stem_head else width(cfg.head_channels)
        self.stem = ConvBnAct(cfg.in_channels, stem, 3, 2, act=cfg.act, **norm)

        stages = decode_arch(cfg.arch)
        repeats = [
            s.repeats
            if cfg.fix_first_last_repeats and i in (0, len(stages) - 1)
            else round_repeats(s.repeats, cfg.depth_mult)
            for i, s in enumerate(stages)
        ]
        total, idx, cin = sum(repeats), 0, stem
        self.stages = nn.ModuleList()
        for s, n in zip(stages, repeats):
            cout = width(s.channels)
            blocks = []
            for j in range(n):
                # timm's "fc" token: size the first block's expansion as if its input had this many channels
                base_in = width(s.force_in_channels) if (j == 0 and s.force_in_channels) else cin
                mid = round_channels(base_in * s.expand) if s.expand != 1 else cin
                se = max(1, int(cin * s.se_ratio)) if s.se_ratio else 0
                blocks.append(
                    MBConv(
                        s.block,
                        cin,
                        cout,
                        s.kernel,
                        s.stride if j == 0 else 1,
                        mid,
                        se,
                        cfg.act,
                        skip=s.skip,
                        drop_path=cfg.drop_path_rate * idx / total,
                        **norm,
                    )
                )
                cin, idx = cout, idx + 1
            self.stages.append(nn.Sequential(*blocks))
        self.head = ConvBnAct(cin, head, 1, act=cfg.act, **norm)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(head, cfg.num_classes)
        self.num_features = head
        self._init_weights()

    def _init_weights(self) -> None:
        # The reference implementation's init: fan-out normal for convs, uniform(±1/sqrt(out)) for the classifier.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                r = 1.0 / m.out_features**0.5
                nn.init.uniform_(m.weight, -r, r)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier (fine-tuning to a new label set)."""
        self.classifier = nn.Linear(self.num_features, num_classes)
        self.config = ModelConfig.from_dict({**self.config.to_dict(), "num_classes": num_classes})
