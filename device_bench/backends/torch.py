"""PyTorch eager on CPU or CUDA: fp32, or fp16/bf16 autocast; channels_last; optional ``torch.compile``.

On CUDA each run is bracketed by CUDA events and ends with the end event's synchronization, so a run is timed on
the GPU and the next one starts only when it has finished (single-stream latency, not queue throughput)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from edgenet.device_bench.modelinfo import ModelInfo
from edgenet.device_bench.remote_runner import (
    RunnerError,
    basic_env,
    batches,
    rss_mb,
    run_record,
    time_loop,
    topk_rows,
)


def input_converter(info: ModelInfo) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(np.float32)


def cuda_time_loop(fn, warmup: int, runs: int, seconds: float | None = None) -> list[float]:
    """Per-run GPU time in ms from CUDA events; each run waits for the previous one to finish."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    deadline = time.perf_counter() + seconds if seconds else None
    lat: list[float] = []
    while True:
        start.record()
        fn()
        end.record()
        end.synchronize()
        lat.append(start.elapsed_time(end))
        if (time.perf_counter() >= deadline) if deadline else len(lat) >= runs:
            return lat


def _autocast(precision: str, device):
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise RunnerError("--precision fp16 needs --device cuda (CPU autocast supports bf16)")
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if dtype is None:
        raise RunnerError(f"unknown --precision {precision}: use fp32, fp16 or bf16")
    return torch.autocast(device_type=device.type, dtype=dtype)


def _env(device) -> dict:
    import torch

    env = basic_env() | {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env |= {
            "gpu": props.name,
            "gpu_memory_gb": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return env


def run(spec: dict) -> dict:
    import torch

    from edgenet.loading import load_model

    torch.set_num_threads(int(spec.get("threads", 1)))
    device = torch.device(spec.get("device", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunnerError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU on this machine", "no_cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fmt = torch.channels_last if spec.get("channels_last") else torch.contiguous_format
    before = rss_mb()
    t0 = time.perf_counter()
    loaded = load_model(checkpoint=spec["model"])
    model = loaded.model.eval().to(device, memory_format=fmt)
    if spec.get("compile"):
        model = torch.compile(model)
    sync()
    load_ms = (time.perf_counter() - t0) * 1000.0
    res, batch = loaded.preprocess.resolution, int(spec.get("batch", 1))
    gen = torch.Generator().manual_seed(int(spec.get("seed", 0)))
    x = torch.randn(batch, 3, res, res, generator=gen).to(device, memory_format=fmt)
    precision = spec.get("precision", "fp32")
    with torch.inference_mode(), _autocast(precision, device):
        t0 = time.perf_counter()
        model(x)
        sync()
        first_ms = (time.perf_counter() - t0) * 1000.0  # includes compilation with --compile
        loop = cuda_time_loop if device.type == "cuda" else time_loop
        latencies = loop(partial(model, x), int(spec["warmup"]), int(spec["runs"]), spec.get("seconds"))
        extra = {"peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20} if device.type == "cuda" else {}
        input_desc = {"name": "input", "shape": list(x.shape), "dtype": "float32"}
        # eager PyTorch has no delegate: "none" is what ran
        result = run_record(
            latencies, load_ms, first_ms, before, input_desc, torch.__version__, _env(device), "none", **extra
        )
        if spec.get("inputs"):
            data = np.load(spec["inputs"], mmap_mode="r")
            preds = []
            for chunk, n in batches(data, batch):
                xb = torch.from_numpy(np.ascontiguousarray(chunk)).to(device, memory_format=fmt)
                preds.extend(topk_rows(model(xb).float().cpu().numpy(), int(spec.get("topk", 5)))[:n])
            result["predictions"] = preds
    return result
