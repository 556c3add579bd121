"""``edgenet scale``: the compound-scaling calculator; ``edgenet scale search``: the grid search for its constants."""

from __future__ import annotations

import math
from pathlib import Path

import click

from edgenet.cli.options import emit_json, human, json_option
from edgenet.scaling import ALPHA, BETA, GAMMA


def _multiplier(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or value < 1:
        raise click.BadParameter(f"must be a number >= 1, got {value}")
    return value


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


@click.group(
    invoke_without_command=True,
    epilog="Examples:\n\n  edgenet scale --phi 1\n\n  edgenet scale --phi 2.5 --json\n\n"
    "  edgenet scale --phi 1.5 --scaling runs/search/scaling.json\n\n"
    "  edgenet scale search --data DIR --img-size 32 --epochs 2 --out runs/search",
)
@click.option("--phi", type=click.FloatRange(0, 10), callback=_finite, help="Compound coefficient φ (0 to 10).")
@click.option("--alpha", type=float, callback=_multiplier, help=f"Depth base α  [default: {ALPHA}]")
@click.option("--beta", type=float, callback=_multiplier, help=f"Width base β  [default: {BETA}]")
@click.option("--gamma", type=float, callback=_multiplier, help=f"Resolution base γ  [default: {GAMMA}]")
@click.option(
    "--scaling",
    "scaling_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="α, β, γ and base from a scaling file (written by `edgenet scale search`).",
)
@click.option("--base", help="Variant to scale (its stage table and stem/head)  [default: b0, or the file's]")
@json_option
@click.pass_context
def scale(
    ctx: click.Context,
    phi: float | None,
    alpha: float | None,
    beta: float | None,
    gamma: float | None,
    scaling_file: Path | None,
    base: str | None,
    as_json: bool,
) -> None:
    """Depth α^φ, width β^φ and resolution γ^φ from B0, with the resulting params and MACs.

    ``scale search`` (a subcommand) finds α, β, γ for your data instead of the paper's."""
    if ctx.invoked_subcommand is not None:
        return
    if phi is None:
        raise click.UsageError("Missing option '--phi'.")
    from dataclasses import replace

    from edgenet.models import Variant, get_variant
    from edgenet.profile import profile_variant
    from edgenet.scaling import PAPER, compound_scale, load_scaling

    found = load_scaling(scaling_file) if scaling_file is not None else PAPER
    alpha, beta, gamma = alpha or found.alpha, beta or found.beta, gamma or found.gamma
    base = base or (found.base if scaling_file is not None else "b0")
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


def _add_search() -> None:
    from edgenet.cli.scale_search_cmd import search

    scale.add_command(search)


_add_search()
