"""``edgenet fit``: the largest compound-scaled EfficientNet whose measured latency on a target meets a budget."""

from __future__ import annotations

from pathlib import Path

import click

from edgenet.cli.options import emit_json, human, json_option, print_table

EPILOG = """Examples:

\b
  edgenet fit --budget-ms 15 --int8 --threads 1
  edgenet fit --budget-ms 40 --family lite --int8 --target ssh://pi@raspberrypi.local --out runs/fit-pi
  edgenet fit --budget-ms 8 --int8 --scaling runs/search/scaling.json

\b
Every answer is measured: each candidate is converted (random weights; int8 calibrated on generated images, which
is all latency needs) and timed on the target like `edgenet bench`, its row stored in OUT/bench.sqlite (or --db).
A log-log fit of latency against MACs only chooses what to measure next. Repeat with another budget and the same
--out to reuse every point measured; Ctrl-C keeps them too. Writes OUT/fit.json and OUT/fit.png.
"""


@click.command(epilog=EPILOG)
@click.option("--budget-ms", type=float, required=True, help="Latency budget: p50 per image, milliseconds.")
@click.option("--target", default="local", show_default=True, help="local | ssh://user@host[:port] | adb://SERIAL")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--int8", is_flag=True, help="Measure the int8 model (default: fp32).")
@click.option(
    "--family", type=click.Choice(["b", "lite", "edgetpu"]), default="b", show_default=True, help="What to scale."
)
@click.option("--base", help="Scale this variant instead of the family's smallest (e.g. lite1).")
@click.option(
    "--scaling",
    "scaling_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="α, β, γ (and base) from `edgenet scale search` instead of the paper's.",
)
@click.option("--num-classes", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--min-res", type=click.IntRange(32, 2048), default=96, show_default=True, help="Smallest input size.")
@click.option("--max-res", type=click.IntRange(32, 2048), default=640, show_default=True, help="Largest input size.")
@click.option(
    "--res-multiple",
    type=click.Choice(["8", "32"]),
    default="32",
    show_default=True,
    help="Resolution grid step; 32 keeps every feature map whole (other sizes cost more than their MACs say).",
)
@click.option("--max-phi", type=click.FloatRange(0, 10), default=3.0, show_default=True, help="Largest φ tried.")
@click.option("--phi-step", type=click.FloatRange(0.01, 1), default=0.1, show_default=True, help="φ grid step.")
@click.option(
    "--max-measure",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Compound-scaled candidates to measure at most (ladder variants come on top).",
)
@click.option("--no-ladder", is_flag=True, help="Do not measure the fixed ladder (B0, B1, …) for comparison.")
@click.option("--runs", type=click.IntRange(min=3), default=50, show_default=True, help="Timed runs per candidate.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/fit"), show_default=True)
@click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), help="Bench database [default: OUT/bench.sqlite]."
)
@click.option("--known-hosts", type=click.Path(path_type=Path), help="ssh: known_hosts file to check the host key.")
@click.option("--identity", type=click.Path(path_type=Path), help="ssh: private key file.")
@click.option("--benchmark-binary", type=click.Path(path_type=Path), help="adb: TFLite's benchmark_model binary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@json_option
def fit(
    budget_ms: float,
    target: str,
    threads: int,
    int8: bool,
    family: str,
    base: str | None,
    scaling_file: Path | None,
    num_classes: int,
    min_res: int,
    max_res: int,
    res_multiple: str,
    max_phi: float,
    phi_step: float,
    max_measure: int,
    no_ladder: bool,
    runs: int,
    out: Path,
    db: Path | None,
    known_hosts: Path | None,
    identity: Path | None,
    benchmark_binary: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Find the largest compound-scaled variant (any φ, resolution on a grid of multiples of 8) whose measured p50
    on --target meets --budget-ms."""
    from dataclasses import replace

    from edgenet.cli.progress import ConsoleProgress
    from edgenet.device_bench.targets import TargetOptions
    from edgenet.models import get_variant
    from edgenet.profile import profile_variant
    from edgenet.scaling import PAPER, load_scaling
    from edgenet.workflows.fit import FAMILIES, FitSettings, write_plot
    from edgenet.workflows.fit import fit as run

    scaling = load_scaling(scaling_file) if scaling_file is not None else PAPER
    if base is not None or scaling_file is None:
        scaling = replace(scaling, base=get_variant(base or FAMILIES[family]).name)
    settings = FitSettings(
        target=target,
        threads=threads,
        int8=int8,
        scaling=scaling,
        scaling_file=str(scaling_file) if scaling_file is not None else None,
        num_classes=num_classes,
        min_res=min_res,
        max_res=max_res,
        res_multiple=int(res_multiple),
        max_phi=max_phi,
        phi_step=phi_step,
        runs=runs,
    )
    opts = TargetOptions(known_hosts=known_hosts, identity=identity, benchmark_binary=benchmark_binary)
    progress = ConsoleProgress(enabled=not quiet and not as_json)
    result = run(budget_ms, settings, out, db, opts, max_measure, not no_ladder, progress)
    base_macs = profile_variant(get_variant(scaling.base), num_classes=num_classes).macs
    write_plot(result, out / "fit.png", base_macs, scaling)
    if as_json:
        emit_json(result.to_dict())
        return
    print_fit(result, budget_ms, target, threads, int8, out)


def print_fit(result, budget_ms: float, target: str, threads: int, int8: bool, out: Path) -> None:
    """The measured points, the variant chosen and how it compares with the fixed ladder's best."""
    rows = [
        {
            "kind": p.kind,
            "model": p.spec.removeprefix("efficientnet_"),
            "res": p.resolution,
            "macs": human(p.macs),
            "params": human(p.params),
            "p50": f"{p.p50_ms:.2f}",
            "p90": f"{p.p90_ms:.2f}",
            "fits": "yes" if p.p50_ms <= budget_ms else "no",
        }
        for p in result.points
    ]
    columns = [("model", "model"), ("kind", "kind"), ("res", "px"), ("macs", "MACs"), ("params", "params")]
    columns += [("p50", "p50 ms"), ("p90", "p90 ms"), ("fits", f"≤ {budget_ms:g} ms")]
    print_table(rows, columns)
    c, lad = result.chosen, result.ladder_best
    reused = len(result.points) - result.measured_now
    click.echo(
        f"\nmeasured {len(result.points)} variants on {target} ({threads} thread(s), {'int8' if int8 else 'fp32'}): "
        f"{result.measured_now} this run, {reused} from {out / 'fit_state.json'}; {result.candidates} candidates"
    )
    click.echo(
        f"largest within {budget_ms:g} ms: {c.spec} at {c.resolution} px, {human(c.macs)} MACs, p50 {c.p50_ms:.2f} ms"
    )
    if lad is not None and lad is not c:
        click.echo(
            f"fixed ladder's largest within budget: {lad.spec.removeprefix('efficientnet_')} "
            f"({human(lad.macs)} MACs, p50 {lad.p50_ms:.2f} ms): the fit has {c.macs / lad.macs:.2f}× its MACs"
        )
    click.echo(f"use it with: {result.model_args}")
    click.echo(f"wrote {out / 'fit.json'}, {out / 'fit.png'}; bench rows in {result.db}")
