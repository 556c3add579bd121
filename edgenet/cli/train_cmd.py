"""``edgenet train``: the paper's recipe from scratch, or fine-tuning from weights, on folders of images."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import emit_json, json_option, model_options

EPILOG = """Examples:

\b
  edgenet train --model b0 --data imgs/train --val imgs/val --epochs 90 --out runs/b0
  edgenet train --model lite0 --weights tf_efficientnet_lite0.safetensors --data imgs/train \\
      --freeze-backbone --epochs 5 --out runs/lite0-ft          (fine-tuning: AdamW + cosine)
  edgenet train --out runs/b0 --resume                          (continue exactly where it stopped)
  torchrun --nproc-per-node 8 $(which edgenet) train --model b3 --data imgs/train --amp --out runs/b3

\b
The run folder gets last.pt (every epoch, and on Ctrl-C), best.pt (best validation top-1; the weights to
convert) and metrics.jsonl. On --resume the run's own settings apply; only --epochs, --data/--val, --workers,
--device and --amp may change.
"""

_FLAGS = ("freeze_backbone", "resume", "amp")


@click.command(epilog=EPILOG)
@model_options
@click.option("--act", type=click.Choice(["relu6", "hardswish", "silu", "relu"]), help="Swap the activation.")
@click.option("--data", type=click.Path(file_okay=False), help="Training images: DIR/<class>/<image>.")
@click.option("--val", type=click.Path(file_okay=False), help="Validation images, same class folders.")
@click.option(
    "--val-split", type=click.FloatRange(0, 1, max_open=True), help="Without --val: hold out this fraction [0.1]."
)
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs in total [10].")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per step and process [64].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Peak learning rate [the recipe's, scaled].")
@click.option("--recipe", type=click.Choice(["paper", "finetune"]), help="[finetune with weights, else paper]")
@click.option("--freeze-backbone", is_flag=True, help="Train only the classifier (fine-tuning).")
@click.option("--augment", type=click.Choice(["randaugment", "autoaugment", "none"]), help="[the recipe's]")
@click.option("--min-crop", type=click.FloatRange(0.01, 1), help="Smallest area of the random crop [0.08].")
@click.option("--ema/--no-ema", default=None, help="Keep an EMA of the weights [the recipe's].")
@click.option(
    "--bn-recal", type=click.IntRange(min=0), help="Batches that re-estimate BN statistics each epoch, 0: off [20]."
)
@click.option("--warmup-epochs", type=click.FloatRange(min=0), help="[the recipe's, at most a tenth of the run]")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True), help="[the recipe's: 0.1]")
@click.option("--drop-path", type=click.FloatRange(0, 1, max_open=True), help="Stochastic depth [the recipe's].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), help="Before the classifier [the variant's].")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder [runs/train].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--workers", type=click.IntRange(min=0), help="Data-loading processes [the CPUs available].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="[auto: cuda when present]")
@click.option("--amp", is_flag=True, help="Mixed precision (CUDA; bfloat16 where supported, else float16).")
@click.option("--seed", type=int, help="Seed of initialisation, data order and augmentation [0].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or per-epoch lines.")
@json_option
def train(quiet: bool, as_json: bool, **options) -> None:
    """Train an EfficientNet classifier on an image folder (from scratch or fine-tuning); resumable."""
    import os
    import sys

    from edgenet.training import TrainConfig
    from edgenet.training import train as run_training

    given = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items() if v is not None}
    given = {k: v for k, v in given.items() if not (k in _FLAGS and v is False)}
    cfg = TrainConfig(**given, progress=not quiet)
    from edgenet.cli.progress import write_above_bars

    log = (lambda msg: None) if quiet else write_above_bars
    result = run_training(cfg, log=log)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        sys.exit(_exit_code(result))
    if as_json:
        emit_json(result)
    else:
        best = f", best val top-1 {result.best_val_top1:.4f} in {result.best}" if result.best else ""
        click.echo(
            f"{result.model} ({result.recipe}): {result.epochs_done} epoch(s), {result.steps} steps{best}; "
            f"{result.last}; metrics in {Path(result.out) / 'metrics.jsonl'}"
        )
    if result.interrupted:
        click.echo(f"interrupted: continue with `edgenet train --out {result.out} --resume`", err=True)
        sys.exit(_exit_code(result))


def _exit_code(result) -> int:
    """0 for a finished run; 130 when Ctrl-C stopped it, 143 for SIGTERM (what shells and schedulers expect)."""
    if not result.interrupted:
        return 0
    return 143 if result.signal == "SIGTERM" else 130
