"""The variant table: a name plus a few numbers. ``create_model`` is the one way to build a network."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from edgenet.models.arch import EFFICIENTNET_B0, EFFICIENTNET_EDGETPU, EFFICIENTNET_LITE
from edgenet.models.efficientnet import EfficientNet, ModelConfig
from edgenet.scaling import ALPHA, BETA, GAMMA, compound_scale
from edgenet.validate import ArgumentError


@dataclass(frozen=True)
class Variant:
    """A registered model: its native input size and the config it builds."""

    name: str
    resolution: int
    config: ModelConfig
    aliases: tuple[str, ...] = field(default=())

    @property
    def width_mult(self) -> float:
        return self.config.width_mult

    @property
    def depth_mult(self) -> float:
        return self.config.depth_mult

    @property
    def dropout(self) -> float:
        return self.config.dropout


_REGISTRY: dict[str, Variant] = {}
_ALIASES: dict[str, str] = {}


def register(variant: Variant) -> Variant:
    """Add a variant; a name or alias that is already taken is an error, never a silent override."""
    for key in (variant.name, *variant.aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"model name {key!r} is already registered")
    _REGISTRY[variant.name] = variant
    for a in variant.aliases:
        _ALIASES[a] = variant.name
    return variant


_B = ModelConfig(arch=EFFICIENTNET_B0)
_LITE = ModelConfig(arch=EFFICIENTNET_LITE, act="relu6", fix_stem_head=True, fix_first_last_repeats=True)
_EDGE = ModelConfig(arch=EFFICIENTNET_EDGETPU, act="relu")

# name: (width, depth, resolution, dropout) — the paper's table / the reference implementation's params.
for _i, (_w, _d, _r, _p) in enumerate(
    [
        (1.0, 1.0, 224, 0.2),
        (1.0, 1.1, 240, 0.2),
        (1.1, 1.2, 260, 0.3),
        (1.2, 1.4, 300, 0.3),
        (1.4, 1.8, 380, 0.4),
        (1.6, 2.2, 456, 0.4),
        (1.8, 2.6, 528, 0.5),
        (2.0, 3.1, 600, 0.5),
        (2.2, 3.6, 672, 0.5),  # B8: not in the paper; TF's efficientnet_builder (AdvProp) and lukemelas' port
    ]
):
    register(Variant(f"efficientnet_b{_i}", _r, replace(_B, width_mult=_w, depth_mult=_d, dropout=_p), (f"b{_i}",)))
for _i, (_w, _d, _r, _p) in enumerate(
    [(1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 280, 0.3), (1.4, 1.8, 300, 0.3)]
):
    register(
        Variant(f"efficientnet_lite{_i}", _r, replace(_LITE, width_mult=_w, depth_mult=_d, dropout=_p), (f"lite{_i}",))
    )
for _s, (_w, _d, _r, _p) in {"s": (1.0, 1.0, 224, 0.2), "m": (1.0, 1.1, 240, 0.2), "l": (1.2, 1.4, 300, 0.2)}.items():
    register(
        Variant(
            f"efficientnet_edgetpu_{_s}",
            _r,
            replace(_EDGE, width_mult=_w, depth_mult=_d, dropout=_p),
            (f"edgetpu_{_s}", f"edgetpu-{_s}"),
        )
    )


def list_models() -> list[str]:
    """Registered canonical names, in table order."""
    return list(_REGISTRY)


def phi_variant(
    phi: float, alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA, base: str = "efficientnet_b0"
) -> Variant:
    """``base`` (B0 unless given) compound-scaled by any φ. Dropout is that of the registered variant of the same
    family nearest in width; Lite and EdgeTPU keep their options (fixed stem/head, ReLU6, fused blocks)."""
    b = _REGISTRY[_ALIASES.get(base, base)]
    cs = compound_scale(phi, alpha, beta, gamma, base_resolution=b.resolution)
    nearest = min(
        (v for v in _REGISTRY.values() if v.config.arch == b.config.arch),
        key=lambda v: abs(v.width_mult - b.width_mult * cs.width_mult),
    )
    cfg = replace(
        b.config,
        width_mult=round(b.width_mult * cs.width_mult, 6),
        depth_mult=round(b.depth_mult * cs.depth_mult, 6),
        dropout=nearest.dropout,
    )
    prefix = "" if b.name == "efficientnet_b0" else f"{b.name.removeprefix('efficientnet_')}+"
    return Variant(f"{prefix}phi:{phi:g}", cs.resolution, cfg)


def _phi_spec(name: str) -> Variant:
    """``[BASE+]phi:F[@SCALING.json]``: BASE (default B0, or the file's) scaled by φ with the paper's constants or
    the file's. The name keeps the file so a checkpoint or report says which constants built it."""
    from edgenet.scaling import load_scaling

    spec = name.strip()
    head, sep, file = spec.partition("@")
    base, plus, phi_part = head.rpartition("+")
    scaling = load_scaling(file) if sep else None
    base = base.strip().lower() if plus else (scaling.base if scaling else "efficientnet_b0")
    if base.startswith("phi:") or (base not in _REGISTRY and base not in _ALIASES):
        raise ArgumentError(f"model {name!r}: base {base!r} is not a registered variant (e.g. lite0+phi:1.5)")
    try:
        phi = float(phi_part.strip().lower().removeprefix("phi:"))
    except ValueError:
        raise ArgumentError(f"model {name!r}: φ must be a number, e.g. phi:1.5") from None
    try:
        if scaling is None:
            v = phi_variant(phi, base=base)
        else:
            v = phi_variant(phi, scaling.alpha, scaling.beta, scaling.gamma, base)
    except ValueError as e:
        raise ArgumentError(f"model {name!r}: {e}") from None
    return replace(v, name=f"{v.name}@{file}") if sep else v


def get_variant(name: str) -> Variant:
    """Look a variant up by name, alias or ``[BASE+]phi:<φ>[@SCALING.json]``; unknown names list the valid ones."""
    from edgenet.validate import text

    key = text(name, "--model").strip().lower()
    if "phi:" in key:
        return _phi_spec(name)
    key = _ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, [*_REGISTRY, *_ALIASES], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ArgumentError(
        f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}, their short aliases "
        "(b0..b8, lite0..lite4, edgetpu_s/m/l), phi:<φ>, BASE+phi:<φ> or phi:<φ>@SCALING.json"
    )


def create_model(name: str | Variant, **overrides) -> EfficientNet:
    """Build a variant; ``overrides`` are :class:`ModelConfig` fields (num_classes, act, dropout, …)."""
    variant = name if isinstance(name, Variant) else get_variant(name)
    unknown = set(overrides) - set(ModelConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown model option(s): {sorted(unknown)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    model = EfficientNet(replace(variant.config, **overrides))
    model.variant_name = variant.name
    model.default_resolution = variant.resolution
    return model
