"""Device benchmark suite → docs/benchmarks/devices.md (+ devices_cpu.json / devices_gpu.json).

CPU part (default): EfficientNet b0–b3 and lite0–lite2 at their native resolution, converted by ``edgenet
convert --int8`` (fp32 + int8 .tflite, .onnx) plus an edgenet checkpoint for PyTorch; TFLite (XNNPACK) at 1 and 2
threads against ONNX Runtime and PyTorch eager on this CPU. Configurations run in rounds (A B C … A B C …) and each
number is the median over rounds of the per-round p50, so a noisy neighbour hits every configuration alike.
It also measures the harness overhead: ``edgenet bench``'s p50 (fresh worker process, shared timing loop) against
a bare ``interpreter.invoke()`` loop in this process, interleaved, on the same model (goal ≤ 2 %).

GPU part (``--gpu``): PyTorch eager fp32 and fp16 (autocast) at batch 1 and 64 on the CUDA device, naming the GPU;
needs no converter. Each part writes its JSON; devices.md is rendered from whichever JSONs exist, so the CPU and
GPU parts can run on different machines.

    python benchmarks/device_suite.py                       # CPU part (needs `edgenet convert`)
    python benchmarks/device_suite.py --models lite0 --rounds 1 --runs 20   # quick check
    python benchmarks/device_suite.py --gpu                 # GPU part, on a machine with CUDA
    python benchmarks/device_suite.py --render              # only rebuild devices.md from the JSONs

Weights are random (no download): latency does not depend on their values, and accuracy is not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgenet.device_bench.bench import Plan, run_benchmarks  # noqa: E402
from edgenet.device_bench.env import local_env  # noqa: E402

DOCS = REPO / "docs" / "benchmarks"
CPU_MODELS = ["b0", "b1", "b2", "b3", "lite0", "lite1", "lite2"]
CALIB = REPO.parent / "shared" / "data" / "cifar10" / "train"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def convert_available() -> bool:
    try:
        import edgenet.converters.pipeline  # noqa: F401

        from edgenet.cli.main import COMMANDS
    except ImportError:
        return False
    return "convert" in COMMANDS


def prepare(name: str, work: Path, calib: Path | None, samples: int) -> dict[str, Path] | None:
    """fp32/int8 .tflite and .onnx via `edgenet convert`, and a checkpoint for PyTorch; reused when present."""
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model

    out = work / name
    files = {
        "tflite fp32": out / "model_fp32.tflite",
        "tflite int8": out / "model_int8.tflite",
        "onnx fp32": out / "model.onnx",
        "torch fp32": out / "model.pt",
    }
    if not all(files[k].is_file() for k in ("tflite fp32", "tflite int8", "onnx fp32")):
        args = ["convert", "--model", name, "--int8", "--out", str(out)]
        if calib is not None:
            args += ["--calib-data", str(calib), "--calib-samples", str(samples)]
        cmd = [sys.executable, "-c", "from edgenet.cli.main import cli; cli()", *args]  # = `edgenet convert …`
        log(f"edgenet {' '.join(args)}")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log(f"  convert failed for {name}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            return None
        log(f"  converted in {time.perf_counter() - t0:.0f} s")
    if not files["torch fp32"].is_file():
        loaded = load_model(name)
        save_checkpoint(files["torch fp32"], checkpoint_from_model(loaded.model, preprocess=loaded.preprocess))
    return files


def rounds_of(jobs: list[tuple[str, str, Path, Plan]], rounds: int) -> dict[tuple[str, str, int], list]:
    """Run every job once per round, interleaved; returns results per (model, artefact, threads)."""
    out: dict[tuple[str, str, int], list] = {}
    for r in range(rounds):
        for i, (model, art, path, plan) in enumerate(jobs):
            (res,) = run_benchmarks([path], plan, progress=False)
            out.setdefault((model, art, res.threads), []).append(res)
            log(
                f"  round {r + 1}/{rounds} [{i + 1}/{len(jobs)}] {model} {art} t={res.threads}: "
                f"p50 {res.latency_ms.p50:.2f} ms"
            )
    return out


def summarize_rounds(results: list) -> dict:
    p50s = [r.latency_ms.p50 for r in results]
    last = results[-1]
    return {
        "p50_ms": statistics.median(p50s),
        "p50_spread_ms": [min(p50s), max(p50s)],
        "p90_ms": statistics.median(r.latency_ms.p90 for r in results),
        "p99_ms": statistics.median(r.latency_ms.p99 for r in results),
        "load_ms": statistics.median(r.load_ms for r in results),
        "first_inference_ms": statistics.median(r.first_inference_ms for r in results),
        "peak_rss_mb": max(r.peak_rss_mb for r in results),
        "model_bytes": last.model_bytes,
        "resolution": last.resolution,
        "backend_version": last.backend_version,
        "rounds": len(results),
        "runs_per_round": last.runs,
    }


def harness_overhead(model: Path, runs: int, rounds: int, warmup: int) -> dict:
    """p50 of `edgenet bench` (worker process, shared loop) vs a bare invoke() loop here, A B A B …, 1 thread."""
    from ai_edge_litert.interpreter import Interpreter
    from edgenet.device_bench.remote_runner import random_input

    it = Interpreter(model_path=str(model), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], random_input(tuple(d["shape"]), d["dtype"]))
    bare, harness = [], []
    for _ in range(rounds):
        for _ in range(warmup):
            it.invoke()
        lat = []
        for _ in range(runs):
            t0 = time.perf_counter()
            it.invoke()
            lat.append((time.perf_counter() - t0) * 1000)
        bare.append(statistics.median(lat))
        (r,) = run_benchmarks([model], Plan(threads=(1,), warmup=warmup, runs=runs), progress=False)
        harness.append(r.latency_ms.p50)
    b, h = statistics.median(bare), statistics.median(harness)
    return {
        "model": str(model.parent.name + "/" + model.name),
        "bare_p50_ms": b,
        "harness_p50_ms": h,
        "overhead_pct": 100 * (h / b - 1),
        "rounds": rounds,
        "runs": runs,
        "bare_per_round": bare,
        "harness_per_round": harness,
    }


def cpu_part(args) -> dict:
    if not convert_available():
        log("edgenet convert is not available yet (converters/pipeline.py); skipping the CPU part")
        return {}
    work = Path(args.work)
    calib = CALIB if CALIB.is_dir() else None
    jobs, sizes = [], {}
    for name in args.models:
        files = prepare(name, work, calib, args.calib_samples)
        if files is None:
            continue
        for art, path in files.items():
            sizes[(name, art)] = path.stat().st_size
            backend = {"tflite": "tflite", "onnx": "onnxruntime", "torch": "torch"}[art.split()[0]]
            for t in args.threads:
                jobs.append((name, art, path, Plan(backend=backend, threads=(t,), warmup=args.warmup, runs=args.runs)))
    log(f"{len(jobs)} configurations × {args.rounds} rounds")
    per = rounds_of(jobs, args.rounds)
    rows = [{"model": m, "artefact": a, "threads": t, **summarize_rounds(rs)} for (m, a, t), rs in per.items()]
    overhead = []
    for name in args.overhead_models:
        model = work / name / "model_fp32.tflite"
        if model.is_file():
            log(f"harness overhead on {name} fp32 …")
            overhead.append(harness_overhead(model, args.runs, max(args.rounds, 3), args.warmup))
    return {"rows": rows, "overhead": overhead}


def gpu_part(args) -> dict:
    import torch

    if not torch.cuda.is_available():
        log("no CUDA device: skipping the GPU part")
        return {}
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model

    work = Path(args.work)
    jobs = []
    for name in args.models:
        path = work / name / "model.pt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            loaded = load_model(name)
            save_checkpoint(path, checkpoint_from_model(loaded.model, preprocess=loaded.preprocess))
        for prec in ("fp32", "fp16"):
            for batch in (1, 64):
                plan = Plan(
                    backend="torch",
                    device="cuda",
                    precision=(prec,),
                    batch=(batch,),
                    warmup=args.warmup,
                    runs=args.runs,
                    channels_last=args.channels_last,
                )
                jobs.append((name, f"torch {prec} b{batch}", path, plan))
    per = rounds_of(jobs, args.rounds)
    rows = []
    for (m, a, _), rs in per.items():
        s = summarize_rounds(rs)
        batch = rs[-1].batch
        s["throughput_per_s"] = batch * 1000 / s["p50_ms"]
        s["peak_gpu_mb"] = max(r.options.get("peak_gpu_mb", 0) for r in rs)
        rows.append({"model": m, "artefact": a, "batch": batch, "precision": rs[-1].precision, **s})
    props = torch.cuda.get_device_properties(0)
    return {
        "rows": rows,
        "gpu": props.name,
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "channels_last": args.channels_last,
    }


def render(cpu: dict | None, gpu: dict | None) -> str:
    lines = [
        "# Device benchmarks",
        "",
        "Written by `benchmarks/device_suite.py` (see its docstring for how to rerun). Latency is the median over "
        "rounds of each round's p50 (ms per inference); configurations run interleaved, round after round, "
        "in fresh worker processes, exactly as `edgenet bench` runs them. Random weights (latency does not "
        "depend on them).",
        "",
    ]
    if cpu:
        env = cpu["env"]
        lines += [
            "## CPU",
            "",
            f"Machine: **{env['cpu_model']}**, {env['cpu_usable']} usable cores ({env['cpu_count']} logical), "
            f"{env['os']} {env['kernel']}, Python {env['python']}; packages: "
            + ", ".join(f"{k} {v}" for k, v in env["packages"].items())
            + f". Measured {cpu['date']}, "
            f"{cpu['args']['rounds']} rounds × {cpu['args']['runs']} runs after {cpu['args']['warmup']} "
            "warm-up runs.",
            "",
            f"Command: `{cpu['command']}`",
            "",
        ]
        if cpu.get("note"):
            lines += [f"> {cpu['note']}", ""]
        by = {(r["model"], r["artefact"], r["threads"]): r for r in cpu["rows"]}
        models = list(dict.fromkeys(r["model"] for r in cpu["rows"]))
        arts = ["tflite fp32", "tflite int8", "onnx fp32", "torch fp32"]
        threads = sorted({r["threads"] for r in cpu["rows"]})
        head = ["model", "res", *[f"{a} ×{t}" for a in arts for t in threads], "int8 speed-up ×1", "size fp32 → int8"]
        lines += [
            "### p50 latency (ms) by artefact and thread count",
            "",
            "| " + " | ".join(head) + " |",
            "|---|---:|" + "---:|" * (len(head) - 2),
        ]
        for m in models:
            cells = []
            for a in arts:
                for t in threads:
                    r = by.get((m, a, t))
                    cells.append(f"{r['p50_ms']:.2f}" if r else "–")
            f32, i8 = by.get((m, "tflite fp32", 1)), by.get((m, "tflite int8", 1))
            speed = f"{f32['p50_ms'] / i8['p50_ms']:.2f}×" if f32 and i8 else "–"
            size = f"{f32['model_bytes'] / 1e6:.1f} → {i8['model_bytes'] / 1e6:.1f} MB" if f32 and i8 else "–"
            res = next((r["resolution"] for r in cpu["rows"] if r["model"] == m), "")
            lines.append(f"| {m} | {res} | " + " | ".join(cells) + f" | {speed} | {size} |")
        lines += [
            "",
            "### Ratios against TFLite fp32 at the same thread count (lower is faster)",
            "",
            "| model | threads | tflite int8 | onnxruntime fp32 | torch fp32 |",
            "|---|---:|---:|---:|---:|",
        ]
        for m in models:
            for t in threads:
                base = by.get((m, "tflite fp32", t))
                if not base:
                    continue
                cells = [
                    f"{by[(m, a, t)]['p50_ms'] / base['p50_ms']:.2f}" if (m, a, t) in by else "–"
                    for a in ("tflite int8", "onnx fp32", "torch fp32")
                ]
                lines.append(f"| {m} | {t} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "### Load time, first inference, peak RSS (1 thread)",
            "",
            "| model | artefact | load ms | first inference ms | peak RSS MB | p50 spread over rounds ms |",
            "|---|---|---:|---:|---:|---|",
        ]
        for m in models:
            for a in arts:
                r = by.get((m, a, threads[0]))
                if r:
                    lo, hi = r["p50_spread_ms"]
                    lines.append(
                        f"| {m} | {a} | {r['load_ms']:.0f} | {r['first_inference_ms']:.1f} | "
                        f"{r['peak_rss_mb']:.0f} | {lo:.2f}–{hi:.2f} |"
                    )
        if cpu.get("overhead"):
            lines += [
                "",
                "### Harness overhead",
                "",
                "`edgenet bench` p50 (fresh worker process, the shared timing loop) against a bare "
                "`interpreter.invoke()` loop timed with `perf_counter` in the suite's own process, same model, "
                "1 thread, interleaved rounds. Goal: ≤ 2 %.",
                "",
                "| model | bare p50 ms | harness p50 ms | overhead | rounds × runs |",
                "|---|---:|---:|---:|---|",
            ]
            for o in cpu["overhead"]:
                lines.append(
                    f"| {o['model']} | {o['bare_p50_ms']:.3f} | {o['harness_p50_ms']:.3f} | "
                    f"{o['overhead_pct']:+.2f} % | {o['rounds']} × {o['runs']} |"
                )
        lines.append("")
    else:
        lines += [
            "## CPU",
            "",
            "Not measured yet: run `python benchmarks/device_suite.py` (needs `edgenet convert`).",
            "",
        ]
    if gpu:
        lines += [
            "## GPU",
            "",
            f"GPU: **{gpu['gpu']}**, CUDA {gpu['cuda']}, PyTorch {gpu['torch']}; eager mode, "
            f"{'channels_last, ' if gpu['channels_last'] else ''}fp16 = autocast; each run timed with CUDA "
            f"events and synchronized before the next. Measured {gpu['date']}.",
            "",
            f"Command: `{gpu['command']}`",
            "",
            *([f"> {gpu['note']}", ""] if gpu.get("note") else []),
            "| model | precision | batch | p50 ms | p90 ms | images/s | peak GPU MB |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in gpu["rows"]:
            lines.append(
                f"| {r['model']} | {r['precision']} | {r['batch']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
                f"{r['throughput_per_s']:.0f} | {r['peak_gpu_mb']:.0f} |"
            )
        lines.append("")
    else:
        lines += [
            "## GPU",
            "",
            "Not measured yet: run `python benchmarks/device_suite.py --gpu` on a CUDA machine.",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=None, help="comma list (default: b0..b3,lite0..lite2)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calib-samples", type=int, default=100)
    ap.add_argument("--work", default=str(REPO / "build" / "device_suite"))
    ap.add_argument("--overhead-models", default="b0,lite0", help="models for the harness-overhead check")
    ap.add_argument("--gpu", action="store_true", help="run the GPU part instead of the CPU part")
    ap.add_argument("--channels-last", action="store_true", help="GPU part: channels_last memory format")
    ap.add_argument("--render", action="store_true", help="only rebuild devices.md from the JSON files")
    ap.add_argument("--docs", default=str(DOCS))
    ap.add_argument("--note", help="a remark stored with this part's results and printed in devices.md")
    args = ap.parse_args()
    args.models = args.models.split(",") if args.models else CPU_MODELS
    args.threads = [int(t) for t in args.threads.split(",")]
    args.overhead_models = [m for m in args.overhead_models.split(",") if m]
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    part = "gpu" if args.gpu else "cpu"
    if not args.render:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        data = gpu_part(args) if args.gpu else cpu_part(args)
        if data:
            data |= {
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                "env": local_env(),
                "command": " ".join(["python", "benchmarks/device_suite.py", *sys.argv[1:]]),
                "args": {k: v for k, v in vars(args).items() if k in ("runs", "warmup", "rounds", "threads")},
                "host": platform.node(),
                "note": args.note,
            }
            (docs / f"devices_{part}.json").write_text(json.dumps(data, indent=1) + "\n")
            print_table(data, part)
    parts = {
        p: json.loads((docs / f"devices_{p}.json").read_text())
        for p in ("cpu", "gpu")
        if (docs / f"devices_{p}.json").is_file()
    }
    (docs / "devices.md").write_text(render(parts.get("cpu"), parts.get("gpu")))
    log(f"wrote {docs / 'devices.md'}")


def print_table(data: dict, part: str) -> None:
    for r in data["rows"]:
        extra = f"batch {r['batch']}" if part == "gpu" else f"threads {r['threads']}"
        print(
            f"{r['model']:6s} {r['artefact']:16s} {extra:9s} p50 {r['p50_ms']:9.3f} ms  "
            f"(spread {r['p50_spread_ms'][0]:.3f}–{r['p50_spread_ms'][1]:.3f})"
        )
    for o in data.get("overhead", []):
        print(
            f"harness overhead {o['model']}: bare {o['bare_p50_ms']:.3f} ms, harness {o['harness_p50_ms']:.3f} ms "
            f"→ {o['overhead_pct']:+.2f} %"
        )


if __name__ == "__main__":
    main()
