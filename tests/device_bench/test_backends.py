"""Each backend on a tiny model, through the real local target (a fresh worker process per configuration)."""

import numpy as np
import pytest
from edgenet.device_bench import remote_runner
from edgenet.device_bench.bench import Plan, run_benchmarks

from edgenet.errors import EdgenetError

FAST = dict(warmup=2, runs=15)


def check(r, backend, precision, input_dtype):
    lat = r.latency_ms
    assert r.backend == backend and r.precision == precision and r.input_dtype == input_dtype
    assert r.runs == 15 and len(r.latencies_ms) == 15 and min(r.latencies_ms) > 0
    assert lat.min <= lat.p50 <= lat.p90 <= lat.p99 <= lat.max
    assert r.load_ms > 0 and r.first_inference_ms > 0 and r.peak_rss_mb > 10
    assert r.model_bytes > 0 and len(r.model_sha256) == 64 and r.resolution == 32
    assert r.env["cpu_model"] and r.env["cpu_count"] >= 1 and r.machine == r.env["cpu_model"]
    assert r.throughput_per_s == pytest.approx(r.batch * 1000 / lat.mean)


def test_tflite_fp32_and_int8_threads(tiny):
    models = [tiny / "tflite" / "model_fp32.tflite", tiny / "tflite" / "model_int8.tflite"]
    res = run_benchmarks(models, Plan(threads=(1, 2), **FAST), progress=False)
    assert [(r.model_file, r.threads) for r in res] == [
        ("model_fp32.tflite", 1),
        ("model_fp32.tflite", 2),
        ("model_int8.tflite", 1),
        ("model_int8.tflite", 2),
    ]
    for r in res[:2]:
        check(r, "tflite", "fp32", "float32")
    for r in res[2:]:
        check(r, "tflite", "int8", "int8")
    assert all(r.delegate == "xnnpack" and r.options["interpreter"] == "ai_edge_litert" for r in res)
    assert res[0].config_key != res[1].config_key and res[0].model_sha256 != res[2].model_sha256
    assert res[0].model == "tiny_keras"  # from report.json beside the file


def test_tflite_reference_kernels_and_batch(tiny):
    r1, r4 = run_benchmarks(
        [tiny / "tflite" / "model_fp32.tflite"], Plan(delegate="none", batch=(1, 4), **FAST), progress=False
    )
    assert r1.delegate == "none" and (r1.batch, r4.batch) == (1, 4)
    assert r4.throughput_per_s == pytest.approx(4000 / r4.latency_ms.mean)


def test_onnxruntime(tiny):
    (r,) = run_benchmarks([tiny / "torch" / "model.onnx"], Plan(**FAST), progress=False)
    check(r, "onnxruntime", "fp32", "float32")
    assert r.env["onnxruntime_providers"][0] == "CPUExecutionProvider"


def test_onnxruntime_fixed_batch_and_missing_gpu(tiny):
    with pytest.raises(EdgenetError, match="fixed batch of 1"):
        run_benchmarks([tiny / "torch" / "model.onnx"], Plan(batch=(2,), **FAST), progress=False)
    with pytest.raises(EdgenetError, match="no CUDAExecutionProvider"):
        run_benchmarks([tiny / "torch" / "model.onnx"], Plan(device="cuda", **FAST), progress=False)


@pytest.mark.slow
def test_torch_cpu_channels_last(tiny):
    plan = Plan(backend="torch", channels_last=True, **FAST)
    (r,) = run_benchmarks([tiny / "torch" / "model.pt"], plan, progress=False)
    check(r, "torch", "fp32", "float32")
    assert r.options["channels_last"] is True and r.backend_version.startswith("2.")
    assert r.config_key == plan_key(r) != plan_key(r, precision="bf16") != plan_key(r, channels_last=False)


def test_torch_autocast_choice():
    import torch
    from edgenet.device_bench.backends.torch import _autocast

    cpu = torch.device("cpu")
    ctx = _autocast("bf16", cpu)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cpu"
    assert not isinstance(_autocast("fp32", cpu), torch.autocast)
    with pytest.raises(remote_runner.RunnerError, match="fp16 needs --device cuda"):
        _autocast("fp16", cpu)


def plan_key(r, **change):
    from dataclasses import replace

    from edgenet.device_bench.results import BenchConfig

    cfg = BenchConfig(r.backend, r.device, r.threads, r.delegate, r.batch, r.precision, r.options["channels_last"])
    return replace(cfg, **change).key(r.target, r.machine)


def test_torch_fp16_needs_cuda(tiny):
    with pytest.raises(EdgenetError, match="fp16 needs --device cuda"):
        run_benchmarks([tiny / "torch" / "model.pt"], Plan(precision=("fp16",), **FAST), progress=False)


@pytest.mark.gpu
def test_torch_cuda_fp32_fp16_batches(tmp_path):
    """CUDA path: fp32 and fp16 autocast at batch 1 and 8, CUDA-event timing, the GPU named as the machine."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    net = create_model("b0", num_classes=3, width_mult=0.25, depth_mult=0.25, head_channels=64)
    path = save_checkpoint(tmp_path / "m.pt", checkpoint_from_model(net, preprocess=Preprocess(32)))
    plan = Plan(device="cuda", precision=("fp32", "fp16"), batch=(1, 8), channels_last=True, **FAST)
    res = run_benchmarks([path], plan, progress=False)
    assert [(r.precision, r.batch) for r in res] == [("fp32", 1), ("fp32", 8), ("fp16", 1), ("fp16", 8)]
    gpu = torch.cuda.get_device_name(0)
    for r in res:
        assert r.device == "cuda" and r.machine == r.env["gpu"] == gpu and r.env["cuda"]
        assert r.options["peak_gpu_mb"] > 0 and len(r.latencies_ms) == 15 and r.latency_ms.p50 > 0
    assert len({r.config_key for r in res}) == 4


def test_peak_rss_belongs_to_the_configuration(tiny):
    """Linux carries a parent's ru_maxrss into its children: the worker must report its own peak (VmHWM)."""
    ballast = np.ones(60_000_000)  # ~460 MB resident in this (parent) process
    (r,) = run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), progress=False)
    assert ballast.sum() > 0
    assert r.peak_rss_mb < 300


def test_seconds_mode_runs_for_the_time(tiny):
    (r,) = run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(warmup=1, seconds=0.3), progress=False)
    assert r.runs > 15 and sum(r.latencies_ms) < 400 and r.options["seconds"] == 0.3


def test_time_loop_counts_and_warmup():
    calls = []
    lat = remote_runner.time_loop(lambda: calls.append(1), warmup=3, runs=7)
    assert len(calls) == 10 and len(lat) == 7 and all(x >= 0 for x in lat)


def test_topk_widens_int8_before_negating():
    logits = np.array([[-128, 5, 127, -3]], dtype=np.int8)  # -(-128) overflows int8
    assert remote_runner.topk_rows(logits, 3) == [[2, 1, 3]]


@pytest.fixture(scope="module")
def tiny_ort(tiny, tmp_path_factory):
    """The tiny ONNX model in ONNX Runtime Mobile's .ort format, as convert's ort_fp32 kind writes it."""
    from edgenet.converters.ort_format import ort_bytes

    path = tmp_path_factory.mktemp("ort") / "model_fp32.ort"
    path.write_bytes(ort_bytes((tiny / "torch" / "model.onnx").read_bytes()))
    return path


def test_ort_format_is_its_own_runtime(tiny_ort):
    """A .ort file is recognised by its bytes and timed by the runtime registry's 'ort' backend."""
    from edgenet.device_bench.modelinfo import inspect_model

    info = inspect_model(tiny_ort)
    assert info.format == "ort" and info.input_shape == (1, 3, 32, 32) and info.input_dtype == "float32"
    (r,) = run_benchmarks([tiny_ort], Plan(**FAST), progress=False)
    check(r, "ort", "fp32", "float32")
    assert r.model_format == "ort" and r.delegate == r.delegate_ran == "none" and r.interpreter.startswith("onnxrun")
    with pytest.raises(EdgenetError, match=r"--backend tflite runs \.tflite files"):
        run_benchmarks([tiny_ort], Plan(backend="tflite", **FAST), progress=False)


def test_every_backend_returns_the_one_record(tiny, tiny_ort):
    """tflite (remote_runner's own code), onnxruntime, ort and torch: the same record fields, built once."""
    from edgenet.device_bench.backends import backend_module

    spec = dict(threads=1, warmup=1, runs=3, batch=1, device="cpu", delegate="none", seed=0)
    models = {
        "tflite": tiny / "tflite" / "model_int8.tflite",
        "onnxruntime": tiny / "torch" / "model.onnx",
        "ort": tiny_ort,
        "torch": tiny / "torch" / "model.pt",
    }
    ran = {}
    for name, path in models.items():
        result = backend_module(name).run(spec | {"model": str(path)})
        assert set(remote_runner.RECORD_FIELDS) <= set(result), name
        assert result["ok"] is True and len(result["latencies_ms"]) == 3 and result["peak_rss_mb"] > 10, name
        ran[name] = result["delegate_ran"]
    assert ran == {"tflite": "none", "onnxruntime": "none", "ort": "none", "torch": "none"}
