"""``edgenet scale``: the compound-scaling calculator."""

from __future__ import annotations

import math

import click

from edgenet.cli.options import emit_json, human, json_option
from edgenet.scaling import ALPHA, BETA, GAMMA


def _multiplier(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value) or value < 1:
        raise click.BadParameter(f"must be a number >= 1, got {value}")
    return value


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


@click.command(epilog="Examples:\n\n  edgenet scale --phi 1\n\n  edgenet scale --phi 2.5 --json")
@click.option(
    "--phi", type=click.FloatRange(0, 10), required=True, callback=_finite, help="Compound coefficient φ (0 to 10)."
)
@click.option("--alpha", type=float, default=ALPHA, show_default=True, callback=_multiplier, help="Depth base α.")
@click.option("--beta", type=float, default=BETA, show_default=True, callback=_multiplier, help="Width base β.")
@click.option("--gamma", type=float, default=GAMMA, show_default=True, callback=_multiplier, help="Resolution base γ.")
@click.option("--base", default="b0", show_default=True, help="Variant to scale (its stage table and stem/head).")
@json_option
def scale(phi: float, alpha: float, beta: float, gamma: float, base: str, as_json: bool) -> None:
    """Depth α^φ, width β^φ and resolution γ^φ from B0, with the resulting params and MACs."""
    from dataclasses import replace

    from edgenet.models import Variant, get_variant
    from edgenet.profile import profile_variant
    from edgenet.scaling import compound_scale

    cs = compound_scale(phi, alpha, beta, gamma, base_resolution=get_variant(base).resolution)
    b = get_variant(base)
    cfg = replace(b.config, width_mult=b.width_mult * cs.width_mult, depth_mult=b.depth_mult * cs.depth_mult)
    prof = profile_variant(Variant(f"{b.name}@phi{phi:g}", cs.resolution, cfg))
    result = dict(
        phi=phi,
        depth_mult=cs.depth_mult,
        width_mult=cs.width_mult,
        resolution_mult=cs.resolution_mult,
        resolution=cs.resolution,
        params=prof.params,
        macs=prof.macs,
        flops_factor=cs.flops_factor,
        base=b.name,
    )
    if as_json:
        emit_json({k: result[k] for k in ("phi", "depth_mult", "width_mult", "resolution", "params", "macs")})
        return
    click.echo(
        f"φ = {phi:g} from {b.name} (α={alpha:g}, β={beta:g}, γ={gamma:g}; α·β²·γ² = {alpha * beta**2 * gamma**2:.3f})"
    )
    click.echo(f"  depth multiplier       {cs.depth_mult:.4f}")
    click.echo(f"  width multiplier       {cs.width_mult:.4f}")
    click.echo(f"  resolution multiplier  {cs.resolution_mult:.4f}  -> {cs.resolution} px")
    click.echo(f"  params                 {human(prof.params)} ({prof.params:,})")
    click.echo(
        f"  MACs                   {human(prof.macs)}  (×{prof.macs / profile_variant(b).macs:.2f} "
        f"measured, ×{cs.flops_factor:.2f} by (α·β²·γ²)^φ)"
    )
