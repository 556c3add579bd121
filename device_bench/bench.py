"""``edgenet bench`` as a library call: plan the configurations of each model, run them on a target, turn raw
runner output into :class:`BenchResult` rows, evaluate accuracy once per backend setting, record in the db."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from edgenet.device_bench.backends import DEFAULT_DELEGATE, DELEGATES, backend_module
from edgenet.device_bench.db import ResultsDB
from edgenet.device_bench.env import machine_label, package_versions
from edgenet.device_bench.evaldata import accuracy, build_eval_set, list_labeled_images, resolve_preprocess
from edgenet.device_bench.modelinfo import DEFAULT_BACKEND, RUNS_FORMAT, SUFFIX, ModelInfo, inspect_model
from edgenet.device_bench.plan_checks import refuse_batches_that_cannot_fit, warn_about_meaningless_settings
from edgenet.device_bench.results import BenchConfig, BenchResult, LatencyStats
from edgenet.device_bench.stats import is_unstable, summarize, throughput
from edgenet.device_bench.targets import TargetOptions, open_target

from edgenet.errors import EdgenetError
from edgenet.runtimes import get_runtime


@dataclass(frozen=True)
class Plan:
    """What the user asked for; each model expands it into configurations (the product of the lists)."""

    backend: str | None = None  # None: from the file (tflite → tflite, onnx → onnxruntime, checkpoint → torch)
    device: str = "cpu"
    threads: tuple[int, ...] = (1,)
    delegate: str | None = None  # None: the backend's default (xnnpack for TFLite)
    batch: tuple[int, ...] = (1,)
    precision: tuple[str, ...] = ("fp32",)  # torch only
    channels_last: bool = False
    compile: bool = False
    warmup: int = 10
    runs: int = 100
    seconds: float | None = None


@dataclass(frozen=True)
class EvalOptions:
    data: Path
    limit: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    img_size: int | None = None


def plan_configs(info: ModelInfo, plan: Plan, target_backends: tuple[str, ...], target: str) -> list[BenchConfig]:
    """Configurations for one model, each checked against the file and target (a one-line error if impossible)."""
    backend = plan.backend or DEFAULT_BACKEND[info.format]
    rt = get_runtime(backend)
    why = rt.unavailable() if target == "local" or "cuda" in rt.devices[:1] else None
    if why:  # say that the GPU or the package is missing before anything about the file
        raise EdgenetError(f"--backend {backend}: {why}")
    device = plan.device
    if device == "cpu" and "cpu" not in rt.devices:  # the default, for a runtime that runs elsewhere only (TensorRT)
        device = rt.devices[0]
    if device not in rt.devices:
        note = rt.device_note or f"{rt.label} runs on the {' or '.join(rt.devices)} here; use --device {rt.devices[0]}"
        raise EdgenetError(f"--device {plan.device}: {note}")
    if RUNS_FORMAT[backend] != info.format:
        want = SUFFIX[RUNS_FORMAT[backend]]
        raise EdgenetError(
            f"{info.path}: is a {info.format} model; --backend {backend} runs {want} files "
            f"(use --backend {DEFAULT_BACKEND[info.format]})"
        )
    if backend not in target_backends:
        raise EdgenetError(f"--target {target} runs {', '.join(target_backends)} models only, not {backend}")
    delegate = plan.delegate or DEFAULT_DELEGATE[backend]
    if delegate not in DELEGATES[backend]:
        raise EdgenetError(f"--delegate {delegate} does not apply to {backend} (use {', '.join(DELEGATES[backend])})")
    if delegate in ("gpu", "nnapi") and not target.startswith("adb://"):
        raise EdgenetError(f"--delegate {delegate} runs through benchmark_model on a phone: use --target adb://SERIAL")
    check = getattr(backend_module(backend), "check", None)
    if check is not None:  # what the backend itself can say about this file and delegate before a run
        check(info, delegate)
    precisions = plan.precision if backend == "torch" else (info.precision,)
    if backend == "torch" and "fp16" in precisions and plan.device != "cuda":
        raise EdgenetError("--precision fp16 needs --device cuda (CPU autocast supports bf16)")
    return [
        BenchConfig(
            backend=backend,
            device=device,
            threads=t,
            delegate=delegate,
            batch=b,
            precision=p,
            channels_last=plan.channels_last and backend == "torch",
            compile=plan.compile and backend == "torch",
            warmup=plan.warmup,
            runs=plan.runs,
            seconds=plan.seconds,
        )
        for p, b, t in itertools.product(precisions, plan.batch, plan.threads)
    ]


def make_result(info: ModelInfo, cfg: BenchConfig, target: str, raw: dict) -> BenchResult:
    """Raw runner output → a result row (statistics computed here, the same way for every target)."""
    env = dict(raw.get("env") or {})
    if target == "local":
        env["packages"] = package_versions()
    machine = machine_label(env, cfg.device)
    if raw.get("latencies_ms"):
        lat = list(raw["latencies_ms"])
        stats, runs = summarize(lat), len(lat)
    else:  # benchmark_model over adb reports a summary, no samples
        s = raw["latency_summary"]
        lat, runs = [], int(raw.get("runs") or 0)
        stats = LatencyStats(None, None, None, s.get("mean"), s.get("std"), s.get("min"), s.get("max"))
    options = {k: raw[k] for k in ("interpreter", "peak_gpu_mb", "rss_before_load_mb") if raw.get(k) is not None}
    if cfg.backend == "torch":
        options |= {"channels_last": cfg.channels_last, "compile": cfg.compile}
    if cfg.seconds:
        options["seconds"] = cfg.seconds
    version = str(raw.get("backend_version") or "unknown")
    return BenchResult(
        model=info.name,
        model_file=info.path.name,
        model_sha256=info.sha256,
        model_bytes=info.bytes,
        model_format=info.format,
        precision=cfg.precision,
        resolution=info.resolution,
        backend=cfg.backend,
        backend_version=version,
        device=cfg.device,
        target=target,
        machine=machine,
        threads=cfg.threads,
        delegate=cfg.delegate,
        batch=cfg.batch,
        runs=runs,
        warmup=cfg.warmup,
        latency_ms=stats,
        throughput_per_s=throughput(stats, cfg.batch),
        load_ms=raw.get("load_ms"),
        first_inference_ms=raw.get("first_inference_ms"),
        peak_rss_mb=raw.get("peak_rss_mb"),
        input_dtype=str((raw.get("input") or {}).get("dtype") or info.input_dtype),
        env=env,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config_key=cfg.key(target, machine),
        options=options,
        unstable=is_unstable(lat, stats),
        delegate_ran=_delegate_ran(cfg, raw),
        interpreter=_interpreter(raw.get("interpreter") or cfg.backend, version),
        cpu_int8=env.get("cpu_int8"),
        emulated=env.get("emulated"),
        latencies_ms=lat,
    )


def _interpreter(package: str, version: str) -> str:
    """'tflite_runtime 2.14.0'; a tool that is its own version (adb's benchmark_model) is named once."""
    return package if version == package else f"{package} {version}"


def _delegate_ran(cfg: BenchConfig, raw: dict) -> str | None:
    """What ran, as the runtime reported it: the TFLite runner counts the delegate kernels in the interpreter's
    graph; ONNX Runtime's runner refuses a provider that fell back, and torch has no delegate (both say so in
    ``delegate_ran``); benchmark_model logs whether it created XNNPACK; anything else is unknown (None), never
    assumed."""
    if "delegate_ran" in raw:
        return raw["delegate_ran"]
    xnnpack = (raw.get("env") or {}).get("xnnpack")  # benchmark_model over adb
    if cfg.delegate == "xnnpack" and xnnpack is not None:
        return "xnnpack" if xnnpack else "none"
    return None


def _accuracy_group(cfg: BenchConfig) -> tuple:
    """Configurations that must classify identically: thread count and batch size do not change the answers."""
    return (cfg.backend, cfg.device, cfg.delegate, cfg.precision, cfg.channels_last, cfg.compile)


def run_benchmarks(
    models: list[Path],
    plan: Plan,
    target: str = "local",
    target_opts: TargetOptions | None = None,
    eval_opts: EvalOptions | None = None,
    db: ResultsDB | None = None,
    command: str = "",
    on_result: Callable[[BenchResult, int, int], None] | None = None,
    progress: bool = True,
) -> list[BenchResult]:
    """Benchmark every model under ``plan`` on ``target``; each result is recorded in ``db`` as soon as it exists.

    An interruption (Ctrl-C) or failure marks the db run 'interrupted'/'failed' and re-raises: the rows of
    finished configurations stay, and no row is ever half-written."""
    from edgenet.validate import bench_plan, paths

    bench_plan(plan, target)  # the same rules for the CLI and edgenet.api.bench
    target_opts = target_opts or TargetOptions()
    infos = [inspect_model(m) for m in paths(models, "MODEL_FILES")]
    refuse_batches_that_cannot_fit(infos, plan.batch, target)
    results: list[BenchResult] = []
    with open_target(target, target_opts) as tgt:
        jobs = [(info, cfg) for info in infos for cfg in plan_configs(info, plan, tgt.backends, target)]
        warn_about_meaningless_settings(plan.threads, plan.runs, plan.seconds, target)  # the plan is valid: now
        run_id = db.start_run(command) if db is not None else None
        status = "failed"
        try:
            with tempfile.TemporaryDirectory(prefix="edgenet-bench-") as tmp:
                evaluated: dict[tuple, tuple[float, float, int]] = {}
                for i, (info, cfg) in enumerate(jobs):
                    group = (info.sha256, *_accuracy_group(cfg))
                    inputs = targets = None
                    if eval_opts is not None and group not in evaluated:
                        inputs, targets = _eval_inputs(info, cfg, eval_opts, Path(tmp) / f"eval{i}.npy", progress)
                    raw = tgt.run(info.path, cfg.spec(), inputs)
                    result = make_result(info, cfg, target, raw)
                    if inputs is not None:
                        top1, top5 = accuracy(raw["predictions"], targets)
                        evaluated[group] = (top1, top5, len(targets))
                        inputs.unlink()
                    if group in evaluated:
                        top1, top5, n = evaluated[group]
                        k = min(5, info.num_outputs) if info.num_outputs else None  # top-5 of 3 classes is top-3
                        result = replace(result, top1=top1, top5=top5, top5_k=k, eval_samples=n)
                    if db is not None:
                        db.add_result(run_id, result)
                    results.append(result)
                    if on_result:
                        on_result(result, i + 1, len(jobs))
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if db is not None:
                db.finish_run(run_id, status)
    return results


def _eval_inputs(info: ModelInfo, cfg: BenchConfig, opts: EvalOptions, out: Path, progress: bool):
    pre = resolve_preprocess(info, opts.mean, opts.std, opts.img_size)
    if info.labels and info.num_outputs and len(info.labels) != info.num_outputs:
        raise EdgenetError(
            f"{info.path}: labels.txt names {len(info.labels)} classes but the model has {info.num_outputs} outputs"
        )
    items = list_labeled_images(opts.data, info.labels, info.num_outputs, opts.limit)
    convert = backend_module(cfg.backend).input_converter(info)
    layout = "NCHW" if cfg.backend == "torch" else info.layout
    ev = build_eval_set(items, pre, layout, convert, out, progress)
    return ev.inputs, ev.targets
