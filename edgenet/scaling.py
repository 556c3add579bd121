"""Compound scaling (Tan & Le, 2019, eq. 3): depth d = α^φ, width w = β^φ, resolution r = γ^φ.

α=1.2, β=1.1, γ=1.15 came from a small grid search on B0 under α·β²·γ² ≈ 2, so that each unit of φ roughly
doubles the FLOPs. The two rounding rules below are the reference implementation's: they decide the exact
channel and layer counts, and hence the published parameter counts, so they are unit-tested against them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15
BASE_RESOLUTION = 224


def round_channels(channels: float, multiplier: float = 1.0, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Scale ``channels`` and round to a multiple of ``divisor``, never dropping below 90 % of the target.

    Multiples of 8 keep vector units and the Edge TPU's 8/16-wide MAC arrays fully used.
    """
    target = channels * multiplier
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if rounded < round_limit * target:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, multiplier: float = 1.0) -> int:
    """Scale a stage's layer count; ``ceil`` so that a deeper model never loses a layer to rounding."""
    return int(math.ceil(repeats * multiplier))


@dataclass(frozen=True)
class CompoundScale:
    """The multipliers and the input size that a given φ yields."""

    phi: float
    alpha: float
    beta: float
    gamma: float
    depth_mult: float
    width_mult: float
    resolution_mult: float
    resolution: int
    flops_factor: float  # (α·β²·γ²)^φ: how much more compute than the base, to first order


MAX_PHI = 10.0
MAX_RESOLUTION = 2048  # above B8's 672 px with room for φ ≤ 10 (904 px); a 100,000-px input only exhausts memory


def _bound_result(phi: float, alpha: float, beta: float, gamma: float, base_resolution: int) -> None:
    """Bound what φ *yields*, not φ alone: --phi 6 --alpha 5 (depth ×15,625) built for 300 s and 5.3 GB, and
    --phi 10 --alpha 10 --beta 10 overflowed. Compared in logarithms, so no power is computed that could overflow."""
    from edgenet.validate import MAX_DEPTH_MULT, MAX_WIDTH_MULT, ArgumentError

    for what, base, limit, hint in (
        ("depth", alpha, MAX_DEPTH_MULT, "alpha"),
        ("width", beta, MAX_WIDTH_MULT, "beta"),
        ("resolution", gamma, MAX_RESOLUTION / base_resolution, "gamma"),
    ):
        if phi * math.log(base) > math.log(limit) + 1e-12:
            got = f"{base:g}^{phi:g} = {math.exp(min(phi * math.log(base), 700)):.3g}"
            raise ArgumentError(
                f"{what} multiplier {got} is too large: at most {limit:.3g} (B8: depth 3.6, width 2.2, 672 px); "
                f"lower phi or {hint}"
            )


def compound_scale(
    phi: float,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    base_resolution: int = BASE_RESOLUTION,
) -> CompoundScale:
    """Multipliers for ``phi``; resolution is rounded to a multiple of 8 (stride-32 nets pad less on it)."""
    if not math.isfinite(phi) or phi < 0:
        raise ValueError(f"phi must be a finite number >= 0, got {phi}")
    if phi > MAX_PHI:  # the network's size grows ~2^φ: φ = 100 would take minutes to build, φ = 1000 overflows
        raise ValueError(f"phi {phi:g} is too large: at most {MAX_PHI:g} (φ = 7 is already about B7's size)")
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not math.isfinite(value) or value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    _bound_result(phi, alpha, beta, gamma, base_resolution)
    d, w, r = alpha**phi, beta**phi, gamma**phi
    resolution = max(32, int(round(base_resolution * r / 8)) * 8)
    return CompoundScale(
        phi=phi,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        depth_mult=round(d, 6),
        width_mult=round(w, 6),
        resolution_mult=round(r, 6),
        resolution=resolution,
        flops_factor=round((alpha * beta**2 * gamma**2) ** phi, 6),
    )


# ------------------------------------------------------------------------------------------------ scaling files
SCALING_FORMAT = "edgenet.scaling"


@dataclass(frozen=True)
class Scaling:
    """The three bases of compound scaling and the variant they scale: the paper's, or ones ``scale search`` found.

    A file holding one is what ``scale``, ``fit`` and ``phi:F@FILE`` read, so constants found on a user's data and
    device reach every command without retyping them.
    """

    alpha: float = ALPHA
    beta: float = BETA
    gamma: float = GAMMA
    base: str = "efficientnet_b0"

    @property
    def flops_base(self) -> float:
        """α·β²·γ²: the compute factor of one unit of φ (≈ 2 by the paper's constraint)."""
        return self.alpha * self.beta**2 * self.gamma**2

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma, "base": self.base}


PAPER = Scaling()


def check_constants(alpha: float, beta: float, gamma: float) -> None:
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 1:
            raise ValueError(f"{name} must be a number >= 1, got {value!r}")


def load_scaling(path) -> Scaling:
    """Read a scaling file; a missing, unreadable or malformed one is one line naming it and the fix."""
    import json
    from pathlib import Path

    from edgenet.errors import EdgenetError

    path = Path(path)
    fix = "write one with `edgenet scale search --out DIR` (DIR/scaling.json)"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgenetError(f"{path}: scaling file not found; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgenetError(f"{path}: not a readable scaling file ({e}); {fix}") from None
    if not isinstance(d, dict) or d.get("format") != SCALING_FORMAT:
        raise EdgenetError(f'{path}: not an edgenet scaling file (no "format": "{SCALING_FORMAT}"); {fix}')
    try:
        s = Scaling(float(d["alpha"]), float(d["beta"]), float(d["gamma"]), str(d.get("base") or "efficientnet_b0"))
        check_constants(s.alpha, s.beta, s.gamma)
    except (KeyError, TypeError, ValueError) as e:
        raise EdgenetError(f"{path}: bad scaling constants ({e}); {fix}") from None
    return s


def save_scaling(path, scaling: Scaling, **extra) -> None:
    """Write a scaling file atomically; ``extra`` (how it was found) is kept beside the constants."""
    import json

    from edgenet.atomic import write_text_atomic

    d = {"format": SCALING_FORMAT, **scaling.to_dict(), **extra}
    write_text_atomic(path, json.dumps(d, indent=2) + "\n")
