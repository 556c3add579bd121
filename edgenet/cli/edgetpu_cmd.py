"""``edgenet edgetpu``: will a .tflite run on a Coral Edge TPU? Predicted from the flatbuffer, or compiled."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgenet.cli.options import json_option

_MODEL = click.argument("model", type=click.Path(dir_okay=False, path_type=Path))


@click.group()
def edgetpu() -> None:
    """Coral Edge TPU readiness: per-operation prediction, or the real edgetpu_compiler when installed."""


@edgetpu.command(
    epilog="""Examples:

  edgenet edgetpu check build/demo/model_int8.tflite

  edgenet edgetpu check model.tflite -v --json | jq .first_blocker

Exit codes: 0 the whole graph is predicted on the Edge TPU, 3 only part of it (or none), 2 bad input."""
)
@_MODEL
@click.option("-v", "--verbose", is_flag=True, help="List every operation, not only the compiler-style summary.")
@json_option
@click.pass_context
def check(ctx: click.Context, model: Path, verbose: bool, as_json: bool) -> None:
    """Predict, per operation in execution order, whether edgetpu_compiler maps it to the Edge TPU or the CPU."""
    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.converters.edgetpu.check import check_model

    result = check_model(read_tflite(model))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_check(result, verbose)
    ctx.exit(result.exit_code)


@edgetpu.command(
    "compile",
    epilog="""Examples:

  edgenet edgetpu compile build/demo/model_int8.tflite --out build/demo

Without edgetpu_compiler on PATH the prediction of `edgetpu check` is printed instead, with install steps.

\b
Exit status: 0 when the compiler mapped every operation to the Edge TPU; 3 when some run on the CPU, the
compiler failed, or there was no compiler (only a prediction); 2 for bad input. Scripts can gate on it.""",
)
@_MODEL
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the model's).")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds before the compiler is stopped.")
@json_option
@click.pass_context
def compile_(ctx: click.Context, model: Path, out: Path | None, timeout: float, as_json: bool) -> None:
    """Run edgetpu_compiler (-s) and report mapped/unmapped operations and on-chip/off-chip parameter memory."""
    from edgenet.converters.edgetpu import compile_or_predict

    result = compile_or_predict(model, out or model.parent, timeout)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(result.message)
        if result.log is not None:
            for row in result.log.unmapped:
                click.echo(f"  {row.op:<28} {row.count:>5}  {row.status}")
            log = result.log
            if log.on_chip_used_bytes is not None:
                mib = (log.on_chip_used_bytes or 0) / 2**20, (log.off_chip_used_bytes or 0) / 2**20
                click.echo(f"parameters: {mib[0]:.2f} MiB on chip, {mib[1]:.2f} MiB streamed from host memory")
        else:
            _print_check(result.prediction, verbose=False)
            click.echo(f"\n{result.install_hint}", err=True)
    ctx.exit(0 if result.compiled and result.counts.get("cpu") == 0 else 3)


def _print_check(result, verbose: bool) -> None:
    c = result.counts
    click.echo(f"{result.model}: {c['edgetpu']} of {c['total']} ops predicted on the Edge TPU, {c['cpu']} on the CPU")
    if result.rejects:
        click.echo(f"the compiler would refuse this file: {result.rejects}")
    if b := result.first_blocker:
        click.echo(f"first blocker: op {b.index} {b.opcode}: {b.reason}")
    click.echo("")
    if verbose:
        for o in result.ops:
            click.echo(
                f"  {o.index:>4}  {o.opcode:<28} {o.device:<8} {o.status}" + (f" ({o.reason})" if o.reason else "")
            )
    else:
        click.echo(f"  {'Operator':<28} {'Count':>5}  Status")
        for row in result.table():
            click.echo(f"  {row['op']:<28} {row['count']:>5}  {row['status']}")
    if result.fixes:
        click.echo("\nfixes:")
        for fix in result.fixes:
            click.echo(f"  - {fix}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"parameters of the Edge TPU part: {result.param_bytes / 2**20:.2f} MiB")
