"""TensorRT: a serialized ``.engine`` on this machine's NVIDIA GPU, timed with CUDA events like torch on CUDA.

I/O buffers are torch CUDA tensors bound once; each timed run enqueues the engine on torch's current stream and
waits for it (single-stream latency). Without CUDA or the ``tensorrt`` package the run fails with one line saying
which is missing (``edgenet.artifacts.tensorrt_engine``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from edgenet.device_bench.backends.torch import cuda_time_loop
from edgenet.device_bench.modelinfo import ModelInfo
from edgenet.device_bench.remote_runner import RunnerError, basic_env, rss_mb, run_record, topk_rows

from edgenet.errors import EdgenetError


def input_converter(info: ModelInfo) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(np.float32)


def run(spec: dict) -> dict:
    from edgenet.artifacts.tensorrt_engine import load_engine, tensorrt_unavailable

    why = tensorrt_unavailable()
    if why:
        raise RunnerError(why, "no_cuda")
    import tensorrt as trt
    import torch

    before = rss_mb()
    t0 = time.perf_counter()
    try:
        _, context, ins, outs = load_engine(spec["model"])
    except EdgenetError as e:
        raise RunnerError(str(e), "model") from None
    (in_name, in_shape, in_dtype), (out_name, out_shape, out_dtype) = ins[0], outs[0]
    batch = int(spec.get("batch", 1))
    if in_shape[0] != batch:
        raise RunnerError(f"{spec['model']}: the engine was built for batch {in_shape[0]}; use --batch {in_shape[0]}")
    gen = torch.Generator().manual_seed(int(spec.get("seed", 0)))
    x = torch.randn(in_shape, generator=gen).to("cuda", in_dtype)
    y = torch.empty(out_shape, dtype=out_dtype, device="cuda")
    context.set_tensor_address(in_name, x.data_ptr())
    context.set_tensor_address(out_name, y.data_ptr())
    stream = torch.cuda.current_stream()

    def infer() -> None:
        if not context.execute_async_v3(stream.cuda_stream):
            raise RunnerError(f"{spec['model']}: TensorRT failed to run the engine")

    torch.cuda.synchronize()
    load_ms = (time.perf_counter() - t0) * 1000.0
    t0 = time.perf_counter()
    infer()
    torch.cuda.synchronize()
    first_ms = (time.perf_counter() - t0) * 1000.0
    latencies = cuda_time_loop(infer, int(spec["warmup"]), int(spec["runs"]), spec.get("seconds"))
    props = torch.cuda.get_device_properties(0)
    input_desc = {"name": in_name, "shape": list(in_shape), "dtype": str(in_dtype).removeprefix("torch.")}
    env = basic_env() | {"gpu": props.name, "cuda": torch.version.cuda, "tensorrt": trt.__version__}
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20
    result = run_record(
        latencies, load_ms, first_ms, before, input_desc, trt.__version__, env, None, peak_gpu_mb=gpu_mb
    )
    if spec.get("inputs"):
        data = np.load(spec["inputs"], mmap_mode="r")
        preds = []
        for start in range(0, len(data), batch):
            chunk = np.asarray(data[start : start + batch], dtype=np.float32)
            n = len(chunk)
            if n < batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
            x.copy_(torch.from_numpy(chunk).to(in_dtype))
            infer()
            stream.synchronize()
            preds.extend(topk_rows(y.float().cpu().numpy(), int(spec.get("topk", 5)))[:n])
        result["predictions"] = preds
    return result
