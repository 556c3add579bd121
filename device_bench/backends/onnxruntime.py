"""ONNX Runtime: the CPU execution provider, or CUDA / TensorRT when that build of onnxruntime has them."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np
from edgenet.device_bench.modelinfo import ModelInfo
from edgenet.device_bench.remote_runner import (
    RunnerError,
    basic_env,
    batches,
    random_input,
    rss_mb,
    run_record,
    time_loop,
    topk_rows,
)

PROVIDERS = {
    ("cpu", "none"): "CPUExecutionProvider",
    ("cuda", "none"): "CUDAExecutionProvider",
    ("cuda", "tensorrt"): "TensorrtExecutionProvider",
}


def input_converter(info: ModelInfo) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(info.input_dtype)


def _session(spec: dict):
    import onnxruntime as ort

    want = PROVIDERS.get((spec.get("device", "cpu"), spec.get("delegate", "none")))
    if want is None:
        raise RunnerError(f"onnxruntime has no configuration device={spec['device']} delegate={spec['delegate']}")
    available = ort.get_available_providers()
    if want not in available:
        raise RunnerError(
            f"onnxruntime {ort.__version__} here has no {want} (it has {', '.join(available)}); install "
            "onnxruntime-gpu with a matching CUDA/TensorRT to use the GPU",
            kind="provider",
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec.get("threads", 1))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = [want] + (["CPUExecutionProvider"] if want != "CPUExecutionProvider" else [])
    try:
        sess = ort.InferenceSession(spec["model"], opts, providers=providers)
    except Exception as e:  # onnxruntime raises its own exception types for bad graphs
        raise RunnerError(
            f"{spec['model']}: onnxruntime cannot load it ({str(e).splitlines()[0][:200]})", "model"
        ) from None
    if sess.get_providers()[0] != want:  # ORT falls back to the CPU silently when a GPU provider fails to load
        raise RunnerError(f"onnxruntime could not start {want} (fell back to {sess.get_providers()[0]})", "provider")
    return sess, ort.__version__


def run(spec: dict) -> dict:
    before = rss_mb()
    t0 = time.perf_counter()
    sess, version = _session(spec)
    load_ms = (time.perf_counter() - t0) * 1000.0
    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    batch = int(spec.get("batch", 1))
    dims = list(inp.shape)
    if isinstance(dims[0], int) and dims[0] != batch:
        raise RunnerError(
            f"{spec['model']}: the graph has a fixed batch of {dims[0]}; use --batch {dims[0]} or export it with a "
            "dynamic batch dimension"
        )
    shape = [batch] + [d if isinstance(d, int) else 1 for d in dims[1:]]
    dtype = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8"}.get(inp.type, "int8")
    x = random_input(tuple(shape), dtype, spec.get("seed", 0))
    feed = {inp.name: x}
    t0 = time.perf_counter()
    sess.run(None, feed)
    first_ms = (time.perf_counter() - t0) * 1000.0
    latencies = time_loop(partial(sess.run, None, feed), int(spec["warmup"]), int(spec["runs"]), spec.get("seconds"))
    env = basic_env() | {"onnxruntime_providers": sess.get_providers()}
    input_desc = {"name": inp.name, "shape": shape, "dtype": dtype}
    # the provider asked for is the one that ran: _session refuses ONNX Runtime's silent fallback to the CPU
    result = run_record(
        latencies,
        load_ms,
        first_ms,
        before,
        input_desc,
        version,
        env,
        spec.get("delegate", "none"),
        interpreter="onnxruntime",
    )
    if spec.get("inputs"):
        data = np.load(spec["inputs"], mmap_mode="r")
        preds = []
        for chunk, n in batches(data, batch):
            logits = sess.run([out.name], {inp.name: np.ascontiguousarray(chunk)})[0]
            preds.extend(topk_rows(logits, int(spec.get("topk", 5)))[:n])
        result["predictions"] = preds
    return result
