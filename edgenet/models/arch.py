"""Architectures as data: each stage is one short string, decoded strictly.

Token grammar (timm's notation): ``<type>_r<repeats>_k<kernel>_s<stride>_e<expand>_c<channels>[_se<ratio>]
[_fc<forced in-channels>][_noskip]`` with type ``ds`` (depthwise-separable), ``ir`` (MBConv, inverted residual)
or ``er`` (fused-MBConv, "edge residual"). An unknown token is an error, never skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BLOCK_TYPES = ("ds", "ir", "er")

# EfficientNet-B0 (paper, table 1): MBConv1 k3 ×1, MBConv6 k3 ×2, k5 ×2, k3 ×3, k5 ×3, k5 ×4, k3 ×1.
EFFICIENTNET_B0 = (
    "ds_r1_k3_s1_e1_c16_se0.25",
    "ir_r2_k3_s2_e6_c24_se0.25",
    "ir_r2_k5_s2_e6_c40_se0.25",
    "ir_r3_k3_s2_e6_c80_se0.25",
    "ir_r3_k5_s1_e6_c112_se0.25",
    "ir_r4_k5_s2_e6_c192_se0.25",
    "ir_r1_k3_s1_e6_c320_se0.25",
)
# Lite: B0 without squeeze-excite (poorly supported by int8 accelerators); ReLU6 is set by the variant.
EFFICIENTNET_LITE = tuple(s.replace("_se0.25", "") for s in EFFICIENTNET_B0)
# EdgeTPU: fused-MBConv (a full k×k conv instead of expand + depthwise) early, where it is faster on the TPU.
EFFICIENTNET_EDGETPU = (
    "er_r1_k3_s1_e4_c24_fc24_noskip",
    "er_r2_k3_s2_e8_c32",
    "er_r4_k3_s2_e8_c48",
    "ir_r5_k5_s2_e8_c96",
    "ir_r4_k5_s1_e8_c144",
    "ir_r2_k5_s2_e8_c192",
)

_TOKEN = re.compile(r"^(r|k|s|e|c|se|fc)(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class StageArgs:
    """One stage of identical blocks, before width/depth scaling."""

    block: str
    repeats: int
    kernel: int
    stride: int
    expand: float
    channels: int
    se_ratio: float = 0.0
    force_in_channels: int = 0
    skip: bool = True


def decode_stage(spec: str) -> StageArgs:
    """Parse one stage string; raise ``ValueError`` naming the first bad token."""
    block, *tokens = spec.split("_")
    if block not in BLOCK_TYPES:
        raise ValueError(f"stage {spec!r}: unknown block type {block!r} (expected one of {BLOCK_TYPES})")
    values: dict[str, float] = {}
    skip = True
    for tok in tokens:
        if tok == "noskip":
            skip = False
            continue
        m = _TOKEN.match(tok)
        if not m:
            raise ValueError(f"stage {spec!r}: unknown token {tok!r}")
        key, val = m.groups()
        if key in values:
            raise ValueError(f"stage {spec!r}: token {key!r} given twice")
        values[key] = float(val)
    missing = [k for k in ("r", "k", "s", "e", "c") if k not in values]
    if missing:
        raise ValueError(f"stage {spec!r}: missing {missing}")
    return StageArgs(
        block=block,
        repeats=int(values["r"]),
        kernel=int(values["k"]),
        stride=int(values["s"]),
        expand=values["e"],
        channels=int(values["c"]),
        se_ratio=values.get("se", 0.0),
        force_in_channels=int(values.get("fc", 0)),
        skip=skip,
    )


def decode_arch(specs: tuple[str, ...] | list[str]) -> list[StageArgs]:
    """Decode every stage of an architecture."""
    return [decode_stage(s) for s in specs]
