"""``edgenet models``: the family at a glance, params and MACs counted on the real graph.

The counts come from edgenet/models_table.py, counted once by :func:`edgenet.profile.write_table`: counting all 17
variants took 7.5 s (torch's import and the FLOP counter) to print a fixed table; now no torch is imported.
"""

from __future__ import annotations

import click

from edgenet.cli.options import emit_json, human, json_option, print_table


@click.command(epilog="Examples:\n\n  edgenet models\n\n  edgenet models --json | jq '.[0]'")
@click.option(
    "--num-classes", type=click.IntRange(min=1), default=1000, show_default=True, help="Classifier size for the counts."
)
@json_option
def models(num_classes: int, as_json: bool) -> None:
    """List every registered variant: resolution, width/depth multipliers, dropout, params, MACs."""
    from edgenet.models_table import TABLE

    keys = ("resolution", "width_mult", "depth_mult", "dropout")
    profiles = [
        dict(
            name=name,
            **dict(zip(keys, row[:4])),
            params=row[4] + (row[6] + 1) * num_classes,
            macs=row[5] + row[6] * num_classes,
        )
        for name, row in TABLE.items()
    ]
    if as_json:
        emit_json(profiles)
        return
    rows = [
        dict(
            name=p["name"],
            res=p["resolution"],
            w=f"{p['width_mult']:g}",
            d=f"{p['depth_mult']:g}",
            drop=f"{p['dropout']:g}",
            params=human(p["params"]),
            macs=human(p["macs"]),
        )
        for p in profiles
    ]
    cols = [("name", "name"), ("res", "res"), ("w", "width"), ("d", "depth"), ("drop", "dropout")]
    print_table(rows, [*cols, ("params", "params"), ("macs", "MACs")])
