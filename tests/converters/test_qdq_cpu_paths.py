"""The Q/DQ ONNX on every ONNX Runtime kernel path, and verification that tells a kernel fault from a model fault.

x86 CPUs without VNNI (AVX2 alone, or AVX-512 without VNNI) run ONNX Runtime's int8 GEMM as u8s8 ``vpmaddubsw``, which
adds the products of two adjacent input channels in a saturating int16. The test model forces that overflow: a 1×1
convolution whose weights all quantize to +127, fed its calibrated maximum (u8 255): 255 · 127 · 2 > 32,767. The
AVX2 path runs under ``qemu-x86_64`` (user-mode emulation reports AVX2 and no AVX-512/VNNI, whatever the host has),
so the test holds, and can fail, on every CPU class."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edgenet.converters.tensorrt import gemm_weight_overrides, qdq_onnx
from edgenet.converters.verify import MIN_COSINE, Parity, compare, kernel_fault_check
from helpers import missing_tool

CHANNELS = 64


def saturating_model(path: Path) -> Path:
    """x → Conv1×1(64→8, every weight 1.0) → y: per-channel int8 weights are all +127."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, CHANNELS, 1, 1), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"])],
        "sat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4, 4])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


RUN = """
import json, sys, numpy as np, onnxruntime as ort
x = np.ones((1, CHANNELS, 4, 4), np.float32)
out = {}
for form in ("cpu", "tensorrt"):
    for mode, level in (("kernels", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                        ("simulated", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
        o = ort.SessionOptions(); o.graph_optimization_level = level
        s = ort.InferenceSession(sys.argv[1] + "/" + form + ".onnx", o, providers=["CPUExecutionProvider"])
        out[form + "/" + mode] = float(s.run(None, {"x": x})[0].mean())
print(json.dumps(out))
""".replace("CHANNELS", str(CHANNELS))


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("qdq")
    onnx_path = saturating_model(d / "float.onnx")
    calib = np.random.default_rng(0).uniform(0, 1, (16, CHANNELS, 4, 4)).astype(np.float32)
    calib[0] = 1.0  # the calibrated maximum is what the test feeds
    for form in ("cpu", "tensorrt"):
        (d / f"{form}.onnx").write_bytes(qdq_onnx(onnx_path, calib, form=form))
    return d


def run_under(prefix: list[str], folder: Path) -> dict[str, float]:
    cmd = [*prefix, sys.executable, "-c", RUN, str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_cpu_form_is_right_on_the_avx2_path_where_8_bit_weights_saturate(forms):
    qemu = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")
    if qemu is None:
        missing_tool("qemu-x86_64 not installed (apt-get install qemu-user-static): it emulates an AVX2-only CPU")
    exact = float(CHANNELS)  # 64 inputs of 1.0 times weights of 1.0
    got = run_under([qemu, "-cpu", "max"], forms)
    detail = f"under qemu-x86_64 (AVX2, no VNNI): {got}"
    for form in ("cpu", "tensorrt"):  # the model as written is right in both forms
        assert got[f"{form}/simulated"] == pytest.approx(exact, rel=0.02), detail
    assert got["cpu/kernels"] == pytest.approx(exact, rel=0.02), detail  # 7-bit weights: no overflow
    # 8-bit weights saturate the int16 pair sums: the kernels lose about half (this proves the path is the AVX2 one)
    assert got["tensorrt/kernels"] < 0.75 * exact, detail


def test_gemm_weights_get_7_bits_and_depthwise_keep_8():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.ones((8, 4, 1, 1), np.float32), "pw"),
        numpy_helper.from_array(np.ones((8, 1, 3, 3), np.float32), "dw"),
        numpy_helper.from_array(np.ones((8, 8, 3, 3), np.float32), "full"),
        numpy_helper.from_array(np.ones((10, 8), np.float32), "fc"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "pw"], ["a"]),
        helper.make_node("Conv", ["a", "dw"], ["b"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["b", "full"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c"], ["d"]),
        helper.make_node("Flatten", ["d"], ["e"]),
        helper.make_node("Gemm", ["e", "fc"], ["y"], transB=1),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    overrides = gemm_weight_overrides(onnx.helper.make_model(g))
    assert overrides == {w: [{"axis": 0, "reduce_range": True}] for w in ("pw", "full", "fc")}


def test_the_tensorrt_form_keeps_8_bit_weights(forms):
    """Both forms share the activation ranges; only the GEMM weights' grid differs (±64 against ±127)."""
    import onnx
    from onnx import numpy_helper

    def weights(form: str) -> np.ndarray:
        model = onnx.load(forms / f"{form}.onnx")
        int8 = [numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
        return max(int8, key=np.size)  # the weight (the others are zero points)

    assert np.abs(weights("tensorrt")).max() == 127 and np.abs(weights("cpu")).max() == 64


def parity(cosine: float) -> Parity:
    return Parity("onnx", 8, 1.0, 1.0 if cosine > 0.9 else 0.5, cosine, 10.0)


def test_kernel_fault_is_named_only_when_the_model_itself_is_right():
    fault = kernel_fault_check("m.onnx", "onnx_int8_qdq", parity(0.66), parity(0.99), "AVX2, no VNNI")
    assert not fault.passed and "this CPU (AVX2, no VNNI)" in fault.reason and "runtime fault" in fault.reason
    assert "--accept-low-fidelity" in fault.reason and "\n" not in fault.reason
    assert kernel_fault_check("m.onnx", "k", parity(0.99), parity(0.99), "x") is None  # kernels fine
    assert kernel_fault_check("m.onnx", "k", parity(0.5), parity(0.6), "x") is None  # a model fault: the floor says so
    assert compare("a", np.eye(4), np.eye(4)[::-1]).cosine < MIN_COSINE  # a permuted output (broken layout) fails
