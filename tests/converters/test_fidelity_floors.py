"""A quantized artefact of trained weights that fails its reference is not published: one line, exit 3, the earlier
output kept, and the flag that accepts it named; a kernel fault is told from a model fault.

The real ImageNet Lite0 (cut to 9 classes, 64 px; ``converted_lite0_uint8``'s checkpoint) passes the floors with
room to spare (int8 cosine ~0.999), so the failures are provoked: a floor raised past what any int8 model reaches,
and ONNX Runtime's int8 kernels made to answer wrongly while the same Q/DQ model simulated in float stays right."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from edgenet.device_bench.remote_runner import cpu_int8

from edgenet.artifacts.runtime import OnnxRunner
from edgenet.cli.main import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def earlier_output(tmp_path, converted_lite0_uint8, photos_dir):
    """A folder holding a good earlier conversion (fp32 only), and the arguments to convert into it again."""
    _, _, ckpt = converted_lite0_uint8
    out = tmp_path / "out"
    args = ["convert", "--checkpoint", str(ckpt), "--calib-data", str(photos_dir), "--calib-samples", "12"]
    args += ["--out", str(out), "-q"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return out, args, {p.name: p.read_bytes() for p in out.iterdir()}


def test_below_the_floor_fails_and_keeps_the_earlier_output(earlier_output, monkeypatch):
    out, args, before = earlier_output
    monkeypatch.setattr("edgenet.converters.pipeline.MIN_COSINE", 0.999999)  # no int8 model reaches it
    res = CliRunner().invoke(cli, [*args, "--int8"])
    assert res.exit_code == 3, res.output
    line = res.output.strip().splitlines()[-1]
    assert "model_int8.tflite: cosine" in line and "below the floor 0.999999" in line
    assert "not published" in line and "--accept-low-fidelity" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing replaced, nothing added

    res = CliRunner().invoke(cli, [*args, "--int8", "--accept-low-fidelity"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert [a["name"] for a in report["artifacts"]] == ["fp32", "int8"]
    assert not any(c["name"] == "int8_cosine" for c in report["checks"])  # accepted: no floor applied


def test_a_kernel_fault_is_named_with_the_cpu(earlier_output, monkeypatch):
    """ONNX Runtime's int8 kernels answer wrongly (as the u8s8 ones do on AVX2 without VNNI with 8-bit weights),
    the Q/DQ model simulated in float is right: the error says runtime fault and names this CPU's int8 instructions."""
    out, args, before = earlier_output
    real = OnnxRunner.__call__

    def saturating(self, x):
        y = real(self, x)
        if self.path.name == "model_int8_qdq.onnx" and not self.simulate_qdq:
            return y[:, ::-1].copy()  # wrong class order: cosine far below the floor
        return y

    monkeypatch.setattr(OnnxRunner, "__call__", saturating)
    res = CliRunner().invoke(cli, [*args, "--tensorrt"])
    assert res.exit_code == 3, res.output
    line = res.output.strip().splitlines()[-1]
    assert line.startswith("error: model_int8_qdq.onnx: ONNX Runtime's int8 kernels on this CPU")
    assert "runtime fault, not a model fault" in line and (cpu_int8()[1] or "this CPU") in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_qdq_onnx_records_both_paths(earlier_output):
    out, args, _ = earlier_output
    res = CliRunner().invoke(cli, [*args, "--tensorrt"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    qdq = next(a for a in report["artifacts"] if a["name"] == "onnx_int8_qdq")
    kernels, simulated = qdq["parity"], qdq["details"]["simulated_qdq"]
    # the CPU form runs the same on the kernels as simulated in float, on this CPU whatever its class (cpu_int8)
    assert kernels["cosine"] > 0.98 and simulated["cosine"] > 0.98, (cpu_int8(), kernels, simulated)
    assert np.isclose(kernels["cosine"], simulated["cosine"], atol=0.01), (cpu_int8(), kernels, simulated)
