"""``edgenet bench``: latency (p50/p90/p99), load time, first inference, peak RSS and optional top-1/top-5 of
.tflite / .onnx / checkpoint models, here, on a board over ssh, or on a phone over adb."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from edgenet.cli.options import emit_json, json_option, print_table
from edgenet.errors import EdgenetError, interrupt_exit_code, raise_terminated
from edgenet.runtimes import RUNTIMES  # a table only: no runtime is imported

EPILOG = """Examples:

\b
  edgenet bench build/demo/model_int8.tflite build/demo/model_fp32.tflite --threads 1,2
  edgenet bench model.onnx --threads 1,2,4 --db results.sqlite
  edgenet bench ckpt.pt --backend torch --device cuda --precision fp32,fp16 --batch 1,64
  edgenet bench model_int8.tflite --eval-data data/val --eval-limit 500 --db results.sqlite
  edgenet bench build/b0/model_fp32.pte build/b0/model_int8.pte --threads 1,2 --eval-data data/val --db r.sqlite
  edgenet bench build/b0/model_int8.engine --batch 1 --db results.sqlite      # TensorRT, on the GPU
  edgenet bench model_int8.tflite --target ssh://pi@raspberrypi.local --known-hosts ~/.ssh/known_hosts
  edgenet bench model_int8_edgetpu.tflite --target ssh://mendel@coral --delegate edgetpu
  edgenet bench model_int8.tflite --target adb://R58M123 --benchmark-binary android_aarch64_benchmark_model
"""


def _csv(kind):
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            items = tuple(kind(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}") from None
        if not items:
            raise click.BadParameter("empty list")
        return items

    return parse


def _ints(ctx, param, value):
    return _csv(int)(ctx, param, value)  # each ≥ 1: checked with the API's rules (edgenet.validate.bench_plan)


def _fmt(x, digits=2):
    """Fixed decimals, but three significant digits below 1 (a 20 µs model must not print as 0.02 everywhere)."""
    if x is None:
        return "-"
    return f"{x:.3g}" if 0 < abs(x) < 1 else f"{x:.{digits}f}"


@click.command(epilog=EPILOG)
@click.argument("model_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=click.Choice(list(RUNTIMES)),
    help="Default: the file's runtime ("
    + ", ".join(f"{rt.suffix} → {rt.name}" for rt in RUNTIMES.values() if rt.format != "checkpoint")
    + ", checkpoint → torch).",
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", default="1", show_default=True, callback=_ints, help="Comma list, e.g. 1,2,4.")
@click.option(
    "--delegate",
    type=click.Choice(list(dict.fromkeys(d for rt in RUNTIMES.values() for d in rt.delegates))),
    help="TFLite: xnnpack (default), none, edgetpu; adb: also gpu, nnapi; onnxruntime: tensorrt.",
)
@click.option("--warmup", default=10, show_default=True, type=int, help="Untimed runs first (0 or more).")
@click.option("--runs", default=100, show_default=True, type=int, help="Timed runs (at least 1).")
@click.option("--seconds", type=float, help="Time for T seconds (> 0) instead of --runs.")
@click.option("--batch", default="1", show_default=True, callback=_ints, help="Comma list of batch sizes.")
@click.option("--precision", default="fp32", show_default=True, callback=_csv(str), help="torch: fp32,fp16,bf16.")
@click.option("--channels-last", is_flag=True, help="torch: NHWC memory format.")
@click.option("--compile", "compile_", is_flag=True, help="torch: torch.compile the model first.")
@click.option("--target", default="local", show_default=True, help="local | ssh://user@host[:port] | adb://SERIAL")
@click.option("--known-hosts", type=click.Path(path_type=Path), help="ssh: known_hosts file to check the host key.")
@click.option("--identity", type=click.Path(path_type=Path), help="ssh: private key file.")
@click.option("--remote-python", default="python3", show_default=True, help="ssh: the board's python command.")
@click.option("--connect-timeout", default=8.0, show_default=True, type=click.FloatRange(1, 60), help="ssh, s.")
@click.option("--benchmark-binary", type=click.Path(path_type=Path), help="adb: TFLite's benchmark_model binary.")
@click.option("--eval-data", type=click.Path(path_type=Path), help="Labeled folder DIR/<class>/<image>: top-1/5.")
@click.option("--eval-limit", type=click.IntRange(1), help="At most N images (class-balanced).")
@click.option("--mean", callback=_csv(float), help="Preprocessing when the model has no report.json: r,g,b.")
@click.option("--std", callback=_csv(float), help="Preprocessing when the model has no report.json: r,g,b.")
@click.option("--img-size", type=click.IntRange(8), help="Preprocessing when the model has no report.json.")
@click.option("--db", type=click.Path(path_type=Path), help="SQLite results database to append to.")
@json_option
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def bench(
    model_files,
    backend,
    device,
    threads,
    delegate,
    warmup,
    runs,
    seconds,
    batch,
    precision,
    channels_last,
    compile_,
    target,
    known_hosts,
    identity,
    remote_python,
    connect_timeout,
    benchmark_binary,
    eval_data,
    eval_limit,
    mean,
    std,
    img_size,
    db,
    as_json,
    quiet,
) -> None:
    """Time MODEL_FILES (.tflite, .onnx, ExecuTorch .pte, TensorRT .engine, or edgenet checkpoints for --backend
    torch) in every configuration."""
    from edgenet.device_bench.bench import EvalOptions, Plan
    from edgenet.device_bench.targets import TargetOptions

    for name, v in (("--mean", mean), ("--std", std)):
        if v is not None and len(v) != 3:
            raise EdgenetError(f"{name}: give three comma-separated values (r,g,b)")
    bad = [p for p in precision if p not in ("fp32", "fp16", "bf16")]
    if bad:
        raise EdgenetError(f"--precision {bad[0]}: use fp32, fp16 or bf16")
    plan = Plan(backend, device, threads, delegate, batch, precision, channels_last, compile_, warmup, runs, seconds)
    topts = TargetOptions(known_hosts, identity, remote_python, connect_timeout, benchmark_binary)
    ev = EvalOptions(eval_data, eval_limit, mean, std, img_size) if eval_data else None

    def progress(r, i, n):
        if not quiet:
            p = r.latency_ms.p50 if r.latency_ms.p50 is not None else r.latency_ms.mean
            click.echo(
                f"[{i}/{n}] {r.model_file} {r.backend}/{r.delegate} threads={r.threads} batch={r.batch} "
                f"{r.precision}: {_fmt(p)} ms"
                + (" (emulated)" if r.emulated else "")
                + (" (unstable)" if r.unstable else ""),
                err=True,
            )

    results = _run(list(model_files), plan, target, topts, ev, db, progress, quiet)
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    print_results(results)


def _run(models, plan, target, topts, ev, db, on_result, quiet):
    """run_benchmarks with its rows stored as they come; Ctrl-C or SIGTERM keeps the finished ones and exits 130."""
    from edgenet.device_bench.bench import run_benchmarks
    from edgenet.device_bench.db import ResultsDB

    results_db = ResultsDB(db) if db else None
    old = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return run_benchmarks(
            models, plan, target, topts, ev, results_db, " ".join(sys.argv), on_result, progress=not quiet
        )
    except KeyboardInterrupt as e:
        kept = f"; finished results are in {db}" if db else ""
        click.echo(f"interrupted{kept}", err=True)
        sys.exit(interrupt_exit_code(e))
    finally:
        signal.signal(signal.SIGTERM, old)
        if results_db is not None:
            results_db.close()


COLUMNS = [
    ("model", "model"),
    ("file", "file"),
    ("prec", "prec"),
    ("backend", "backend"),
    ("dev", "device"),
    ("dlg", "delegate"),
    ("ran", "ran"),
    ("interp", "interpreter"),
    ("isa", "CPU int8"),
    ("thr", "threads"),
    ("batch", "batch"),
    ("p50", "p50 ms"),
    ("p90", "p90 ms"),
    ("p99", "p99 ms"),
    ("mean", "mean ms"),
    ("load", "load ms"),
    ("first", "first ms"),
    ("rss", "RSS MB"),
    ("top1", "top-1 %"),
    ("topk", "top-k %"),
]


def _row(r) -> dict:
    return dict(
        model=r.model.removeprefix("efficientnet_"),
        file=r.model_file,
        prec=r.precision,
        backend=r.backend,
        dev=r.device,
        dlg=r.delegate,
        ran=("?" if r.delegate_ran is None else r.delegate_ran) + (" !" if r.delegate_missing else ""),
        interp=r.interpreter or "-",
        isa=r.cpu_int8 or "?",
        thr=r.threads,
        batch=r.batch,
        p50=_fmt(r.latency_ms.p50),
        p90=_fmt(r.latency_ms.p90),
        p99=_fmt(r.latency_ms.p99),
        mean=_fmt(r.latency_ms.mean),
        load=_fmt(r.load_ms, 1),
        first=_fmt(r.first_inference_ms),
        rss=_fmt(r.peak_rss_mb, 0),
        top1=_fmt(r.top1, 1),
        topk=topk_cell(r.top5, r.top5_k),
        note=", ".join(n for n, on in (("emulated", r.emulated), ("unstable", r.unstable)) if on),
    )


def print_results(results) -> None:
    """The results table, the machine, and a warning for every delegate that did not apply or unstable timing."""
    unstable = any(r.unstable for r in results)
    noted = unstable or any(r.emulated for r in results)
    print_table([_row(r) for r in results], [*COLUMNS, ("note", "note")] if noted else COLUMNS)
    if results:
        isa = f" · int8: {results[0].cpu_int8}" if results[0].cpu_int8 else ""
        click.echo(f"\n{results[0].machine}{isa} · {results[0].target}")
    for r in results:
        if r.delegate_missing:
            click.echo(
                f"warning: {r.model_file}: --delegate {r.delegate} did not apply under {r.interpreter} (the "
                f"interpreter installed {'no delegate kernels' if r.delegate_ran == 'none' else r.delegate_ran}); "
                "the latency is the builtin kernels'",
                err=True,
            )
    emulators = sorted({r.emulated for r in results if r.emulated})
    if emulators:
        click.echo(
            f"emulated: {'; '.join(emulators)} ran these; their latencies time the emulator on the host's CPU, "
            "not the CPU it emulates: never compare them with a real board's",
            err=True,
        )
    if unstable:
        from edgenet.device_bench.stats import UNSTABLE_RULE

        click.echo(
            f"unstable: {UNSTABLE_RULE}; another job or thermal throttling: rerun on an idle machine, with more --runs",
            err=True,
        )


def topk_cell(top5: float | None, k: int | None) -> str:
    """Top-k accuracy in percent with its k named: top-5 of a 3-class model is top-3 (and always 100 %)."""
    if top5 is None:
        return "-"
    return f"{top5:.1f} (top-{k})" if k else f"{top5:.1f}"
