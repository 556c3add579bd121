"""ExecuTorch: a ``.pte`` program (XNNPACK-delegated, or on portable kernels) through ``executorch.runtime``.

Threads are ExecuTorch's one process-wide pool (XNNPACK takes its threads from it), sized before the program
loads. Programs are exported for a fixed 1×3×R×R input, so ``--batch`` other than the exported one is refused."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from edgenet.device_bench.modelinfo import ModelInfo
from edgenet.device_bench.remote_runner import (
    RunnerError,
    basic_env,
    random_input,
    rss_mb,
    run_record,
    time_loop,
    topk_rows,
)


def input_converter(info: ModelInfo) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(np.float32)


def run(spec: dict) -> dict:
    try:
        import torch
        from executorch.runtime import Runtime
        from executorch.version import __version__ as version
    except ImportError:
        raise RunnerError("ExecuTorch is not installed here: pip install 'edgenet[executorch]'", "missing") from None
    from edgenet.artifacts.runtime import executorch_threads

    threads = int(spec.get("threads", 1))
    torch.set_num_threads(threads)
    executorch_threads(threads)
    before = rss_mb()
    t0 = time.perf_counter()
    try:
        method = Runtime.get().load_program(spec["model"]).load_method("forward")
    except (RuntimeError, ValueError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise RunnerError(f"{spec['model']}: ExecuTorch cannot load it ({first})", "model") from None
    load_ms = (time.perf_counter() - t0) * 1000.0
    shape = tuple(method.metadata.input_tensor_meta(0).sizes())
    batch = int(spec.get("batch", 1))
    if shape[0] != batch:
        raise RunnerError(f"{spec['model']}: the program was exported for batch {shape[0]}; use --batch {shape[0]}")
    x = torch.from_numpy(random_input(shape, "float32", spec.get("seed", 0)))
    inputs = [x]
    t0 = time.perf_counter()
    method.execute(inputs)
    first_ms = (time.perf_counter() - t0) * 1000.0
    latencies = time_loop(lambda: method.execute(inputs), int(spec["warmup"]), int(spec["runs"]), spec.get("seconds"))
    input_desc = {"name": "input", "shape": list(shape), "dtype": "float32"}
    env = basic_env() | {"executorch_threads": threads}
    # what the .pte delegates was decided at export (report.json's census): the runtime here cannot tell
    result = run_record(latencies, load_ms, first_ms, before, input_desc, version, env, None)
    if spec.get("inputs"):
        data = np.load(spec["inputs"], mmap_mode="r")
        preds = []
        for row in data:
            logits = method.execute([torch.from_numpy(np.ascontiguousarray(row[None], dtype=np.float32))])[0]
            preds.extend(topk_rows(logits.numpy(), int(spec.get("topk", 5))))
        result["predictions"] = preds
    return result
