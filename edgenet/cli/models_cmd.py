"""``edgenet models``: the family at a glance, params and MACs counted on the real graph."""

from __future__ import annotations

import click

from edgenet.cli.options import emit_json, human, json_option, print_table


@click.command(epilog="Examples:\n\n  edgenet models\n\n  edgenet models --json | jq '.[0]'")
@click.option("--num-classes", default=1000, show_default=True, help="Classifier size used for param counts.")
@json_option
def models(num_classes: int, as_json: bool) -> None:
    """List every registered variant: resolution, width/depth multipliers, dropout, params, MACs."""
    from edgenet.models import list_models
    from edgenet.profile import profile_variant

    profiles = [profile_variant(n, num_classes=num_classes) for n in list_models()]
    if as_json:
        emit_json(profiles)
        return
    rows = [
        dict(
            name=p.name,
            res=p.resolution,
            w=f"{p.width_mult:g}",
            d=f"{p.depth_mult:g}",
            drop=f"{p.dropout:g}",
            params=human(p.params),
            macs=human(p.macs),
        )
        for p in profiles
    ]
    cols = [("name", "name"), ("res", "res"), ("w", "width"), ("d", "depth"), ("drop", "dropout")]
    print_table(rows, [*cols, ("params", "params"), ("macs", "MACs")])
