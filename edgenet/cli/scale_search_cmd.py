"""``edgenet scale search``: α, β, γ for your data (and device), by the paper's grid search at φ = 1."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import emit_json, human, json_option, print_table

EPILOG = """Examples:

\b
  edgenet scale search --data data/train --val data/val --img-size 32 --epochs 2 --out runs/search
  edgenet scale search --data data/train --constraint latency --target local --int8 --out runs/search-lat
  edgenet fit --budget-ms 10 --int8 --scaling runs/search/scaling.json

\b
Each candidate is the base at φ = 1 under its own α, β, γ (α·β²·γ² ≈ 2, or with --constraint latency a measured
latency ≈ 2× the base's on --target), trained by `edgenet train`'s loop with one recipe and seed, scored on the
validation split. Rerun with the same --out to continue. Writes OUT/scaling.json (use it with --scaling FILE or
--model phi:F@FILE), OUT/search.json and OUT/search.png.
"""


@click.command(epilog=EPILOG)
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Training images DIR/<class>/<image>.")
@click.option("--val", type=click.Path(path_type=Path), help="Validation images [default: a split of --data].")
@click.option("--base", default="b0", show_default=True, help="Variant to scale.")
@click.option("--img-size", type=click.IntRange(32, 2048), default=224, show_default=True, help="Base resolution.")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Per candidate.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--candidates", type=click.IntRange(min=1), default=6, show_default=True, help="Grid points trained.")
@click.option("--constraint", type=click.Choice(["flops", "latency"]), default="flops", show_default=True)
@click.option("--target", help="--constraint latency: local | ssh://user@host[:port] | adb://SERIAL")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Latency: threads.")
@click.option("--int8", is_flag=True, help="Latency: measure int8 models (default fp32).")
@click.option(
    "--recipe",
    type=click.Choice(["paper", "finetune"]),
    help="Training recipe [default: train's]; for runs of a few epochs from scratch, finetune (AdamW) learns faster.",
)
@click.option("--lr", type=click.FloatRange(0, min_open=True), help="Peak learning rate [default: the recipe's].")
@click.option("--augment", type=click.Choice(["randaugment", "autoaugment", "none"]), help="[default: the recipe's]")
@click.option(
    "--min-crop", type=click.FloatRange(0.01, 1), default=0.08, show_default=True, help="Smallest random-crop area."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), help="Data-loading processes [default: the CPUs available].")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/scale-search"), show_default=True
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@json_option
def search(
    data: Path,
    val: Path | None,
    base: str,
    img_size: int,
    epochs: int,
    batch_size: int,
    candidates: int,
    constraint: str,
    target: str | None,
    threads: int,
    int8: bool,
    recipe: str | None,
    lr: float | None,
    augment: str | None,
    min_crop: float,
    seed: int,
    workers: int | None,
    out: Path,
    quiet: bool,
    as_json: bool,
) -> None:
    """Grid-search the compound-scaling constants α, β, γ on your data: the paper's step 1."""
    from edgenet.cli.progress import ConsoleProgress
    from edgenet.models import get_variant
    from edgenet.workflows.scale_search import SearchSettings, run_search

    settings = SearchSettings(
        data=str(data.resolve()),
        val=str(val.resolve()) if val is not None else None,
        base=get_variant(base).name,
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
        candidates=candidates,
        constraint=constraint,
        target=target,
        recipe=recipe,
        lr=lr,
        augment=augment,
        min_crop=min_crop,
        seed=seed,
        workers=workers,
    )
    progress = ConsoleProgress(enabled=not quiet and not as_json)
    result = run_search(settings, out, threads, int8, progress)
    if as_json:
        emit_json(result.to_dict())
        return
    rows = [
        {
            "a": f"{r.alpha:.2f}",
            "b": f"{r.beta:.2f}",
            "g": f"{r.gamma:.2f}",
            "f": f"{r.flops_factor:.2f}",
            "lat": "-" if r.latency_ratio is None else f"{r.latency_ratio:.2f}×",
            "res": r.resolution,
            "macs": human(r.macs),
            "top1": "-" if r.val_top1 is None else f"{r.val_top1:.2f}",
            "note": ("paper " if r.paper else "") + ("best" if r is result.best else ""),
        }
        for r in result.rows
    ]
    cols = [("a", "α"), ("b", "β"), ("g", "γ"), ("f", "αβ²γ²")]
    cols += [("lat", "latency")] if constraint == "latency" else []
    cols += [("res", "px"), ("macs", "MACs"), ("top1", "val top-1 %"), ("note", "")]
    print_table(rows, cols)
    b = result.best
    click.echo(
        f"\ntrained {result.trained_now} candidate(s) this run, {len(result.rows)} in all ({epochs} epoch(s) each)"
    )
    if b is not None:
        click.echo(f"best: α={b.alpha:g} β={b.beta:g} γ={b.gamma:g} (val top-1 {b.val_top1:.2f} %)")
        if result.paper is not None and result.paper is not b and result.paper.val_top1 is not None:
            click.echo(f"paper's α=1.2 β=1.1 γ=1.15: val top-1 {result.paper.val_top1:.2f} %")
        click.echo(
            f"wrote {result.scaling_file}: use --scaling {result.scaling_file} or --model phi:F@{result.scaling_file}"
        )
