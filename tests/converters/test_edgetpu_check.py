"""`edgenet edgetpu check`: per-op prediction from real flatbuffers, compared with real edgetpu_compiler logs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tflite_builders as tb
from click.testing import CliRunner
from edgenet.converters.edgetpu import check as ck
from edgenet.converters.edgetpu.check import check_model
from edgenet.converters.edgetpu.compiler import parse_log
from edgenet.converters.edgetpu.ops import SUPPORTED

from edgenet.artifacts.tflite_model import OpInfo, TensorInfo, TFLiteModel, read_tflite
from edgenet.cli.main import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edgetpu_compiler"


def recorded(name: str):
    """A recorded compiler log (its '# source' header lines removed)."""
    text = (FIXTURES / name).read_text()
    return parse_log("".join(x for x in text.splitlines(True) if not x.startswith("# ")))


def table(rows) -> Counter:
    return Counter({(r["op"], r["status"]): r["count"] for r in rows})


def log_table(log) -> Counter:
    return Counter({(r.op, r.status): r.count for r in log.operators})


def test_full_int8_all_on_edgetpu():
    r = check_model(read_tflite(tb.tiny("uint8")))
    assert r.all_on_edgetpu and r.exit_code == 0
    assert r.first_blocker is None and r.fixes == [] and r.rejects is None
    assert [o.device for o in r.ops] == ["edgetpu"] * 8
    assert r.param_bytes > 0


def test_float_model_blocked_at_first_op():
    r = check_model(read_tflite(tb.tiny(None)))
    assert r.counts == {"edgetpu": 0, "cpu": 6, "total": 6} and r.exit_code == 3
    assert r.first_blocker.index == 0 and r.first_blocker.opcode == "CONV_2D"
    assert r.first_blocker.status == ck.DATA_TYPE
    assert "Model not quantized" in r.rejects
    assert r.fixes == [ck.FLOAT_MODEL_FIX]


def test_float_io_stays_on_cpu_at_the_boundaries_only():
    r = check_model(read_tflite(tb.tiny("float")))
    devices = [(o.opcode, o.device) for o in r.ops]
    assert devices[0] == ("QUANTIZE", "cpu") and devices[-1] == ("DEQUANTIZE", "cpu")
    assert all(d == "edgetpu" for _, d in devices[1:-1])
    assert r.first_blocker.opcode == "QUANTIZE"
    assert r.fixes == [ck.FLOAT_INPUT_FIX, ck.FLOAT_OUTPUT_FIX]


@pytest.mark.parametrize(
    ("kind", "opcode", "status", "fix"),
    [
        ("leaky_relu", "LEAKY_RELU", ck.NOT_SUPPORTED, "LeakyReLU"),
        ("mean_channels", "MEAN", ck.LIMITATION, "height/width"),
        ("transpose", "TRANSPOSE", ck.LIMITATION, "TRANSPOSE left by conversion"),
    ],
)
def test_planted_op_blocks_the_rest(kind, opcode, status, fix):
    r = check_model(read_tflite(tb.planted(kind)))
    b = r.first_blocker
    assert (b.opcode, b.status, b.index) == (opcode, status, 2)
    assert fix in b.fix and r.exit_code == 3
    before, after = r.ops[: b.index], r.ops[b.index + 1 :]
    assert [o.device for o in before] == ["edgetpu", "edgetpu"]  # QUANTIZE (uint8 -> int8), CONV_2D
    assert after and all(o.device == "cpu" and o.status == ck.AFTER_BLOCKER for o in after)
    assert r.counts == {"edgetpu": 2, "cpu": len(r.ops) - 2, "total": len(r.ops)}


def test_mean_over_channels_multiple_of_4_is_allowed():
    assert check_model(read_tflite(tb.planted("mean_channels_ok"))).all_on_edgetpu


@pytest.mark.parametrize(("io", "log"), [("uint8", "mnist9_uint8_io.log"), ("float", "mnist4_float_io.log")])
def test_prediction_matches_real_log_of_the_same_network(io, log):
    """The MNIST CNN of github.com/system-software-lab/nrf20, rebuilt and converted both ways, against its logs."""
    predicted = check_model(read_tflite(tb.mnist_cnn(io)))
    real = recorded(log)
    assert table(predicted.table()) == log_table(real)
    assert predicted.counts == real.counts()


@pytest.mark.slow
def test_fully_quantized_lite0_predicted_all_on_edgetpu(converted_lite0_uint8):
    """edgenet convert --model lite0 --int8 --int8-io uint8 (shared session conversion)."""
    out, report, _ = converted_lite0_uint8
    r = check_model(read_tflite(out / "model_int8.tflite"))
    assert r.all_on_edgetpu, [(o.index, o.opcode, o.reason) for o in r.ops if o.device == "cpu"]
    assert r.counts["total"] == sum(report.artifacts[-1].ops.values())


@pytest.mark.slow
def test_edgetpu_m_matches_the_real_efficientnet_edgetpu_m_log(tmp_path):
    """Our edgetpu_m, converted by edgenet, has the op structure of Google's EfficientNet-EdgeTPU-M whose real
    compiler-16 log maps all 86 ops; the prediction maps all of ours. Differences: PAD (PyTorch's explicit
    padding; TF uses SAME) and SOFTMAX (edgenet models output logits)."""
    res = CliRunner().invoke(
        cli,
        [
            *("convert", "--model", "edgetpu_m", "--img-size", "64", "--num-classes", "10", "--int8"),
            # the real model takes normalized input: no normalization ops in the graph (--input raw adds 2)
            *("--int8-io", "uint8", "--input", "normalized", "--calib-samples", "2", "-q", "--out", str(tmp_path)),
        ],
    )
    assert res.exit_code == 0, res.output
    r = check_model(read_tflite(tmp_path / "model_int8.tflite"))
    real = recorded("efficientnet_edgetpu_m.log")
    assert r.all_on_edgetpu and real.counts()["cpu"] == 0
    ours = {row["op"]: row["count"] for row in r.table()}
    theirs = {row.op: row.count for row in real.operators}
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "QUANTIZE"):
        assert ours[op] == theirs[op], op
    assert set(ours) - set(theirs) == {"PAD"} and set(theirs) - set(ours) == {"SOFTMAX"}


# ------------------------------------------------------------------ limitation rules on hand-made graphs
class _Model(TFLiteModel):
    """A TFLiteModel whose constants come from a dict, to exercise one rule at a time."""

    consts: dict

    def constant(self, index: int):
        return self.consts.get(index)


def _graph(opcode: str, shapes: list[tuple], options: dict | None = None, consts: dict | None = None) -> _Model:
    """One op: tensor 0 is the input, the last tensor the output, the ones between constants."""
    n = len(shapes)
    tensors = [TensorInfo(i, f"t{i}", s, "int8", (0.1,), (0,), 0 < i < n - 1) for i, s in enumerate(shapes)]
    op = OpInfo(0, opcode, tuple(range(n - 1)), (n - 1,), 1, options or {})
    m = _Model(Path("x.tflite"), tensors, [op], [0], [n - 1])
    m.consts = {i: np.asarray(v) for i, v in (consts or {}).items()}
    return m


@pytest.mark.parametrize(
    ("opcode", "shapes", "options", "consts", "broken"),
    [
        ("MAX_POOL_2D", [(1, 8, 8, 4), (1, 4, 4, 4)], {"fused_activation_function": "RELU"}, None, "fused activation"),
        ("MAX_POOL_2D", [(1, 8, 8, 4), (1, 4, 4, 4)], {"fused_activation_function": "NONE"}, None, None),
        ("CONV_2D", [(1, 8, 8, 4), (4, 3, 3, 4), (1, 8, 8, 4)], {"dilation_h_factor": 2}, None, "dilation"),
        ("MEAN", [(1, 8, 8, 4), (2,), (1, 4)], {}, {1: [1, 2]}, None),
        ("MEAN", [(1, 8, 8, 4), (1,), (8, 8, 4)], {}, {1: [0]}, "batch"),
        ("PAD", [(1, 8, 8, 4), (4, 2), (1, 10, 10, 4)], {}, {1: [[0, 0], [1, 1], [1, 1], [0, 0]]}, None),
        ("PAD", [(1, 8, 8, 4), (4, 2), (3, 8, 8, 4)], {}, {1: [[1, 1], [0, 0], [0, 0], [0, 0]]}, "batch"),
        ("STRIDED_SLICE", [(1, 8, 8, 4), (4,), (4,), (4,), (1, 4, 8, 4)], {}, {3: [1, 2, 1, 1]}, "strides"),
        ("SOFTMAX", [(1, 20000), (1, 20000)], {}, None, "16,000"),
        ("SOFTMAX", [(1, 4, 10), (1, 4, 10)], {}, None, "1-D"),
        ("FULLY_CONNECTED", [(1, 8), (4, 8), (1, 4)], {"weights_format": 1}, None, "weights format"),
        ("SQUEEZE", [(1, 1, 5, 1), (5,)], {"squeeze_dims": [0, 1, 3]}, None, "relayout"),
        ("SQUEEZE", [(1, 1, 5), (5,)], {"squeeze_dims": [0, 1]}, None, None),
        ("CONCATENATION", [(1, 4, 4, 2), (1, 4, 4, 2), (1, 4, 4, 4)], {}, {1: np.ones((1, 4, 4, 2))}, "zeros"),
    ],
)
def test_documented_limitations(opcode, shapes, options, consts, broken):
    m = _graph(opcode, shapes, options, consts)
    rule = SUPPORTED[opcode]
    got = rule.check(m, m.ops[0])
    assert (got is None) if broken is None else (broken in got), got
    pred = check_model(m).ops[0]
    assert pred.device == ("edgetpu" if broken is None else "cpu")


def test_rank_dynamic_and_already_compiled():
    m = _graph("ADD", [(2, 8, 8, 4), (1, 8, 8, 4)])
    assert check_model(m).ops[0].status == ck.RANK
    m = _graph("ADD", [(1, 8, 8, 4), (1, 8, 8, 4)])
    m.tensors[0] = replace(m.tensors[0], shape_signature=(-1, 8, 8, 4))
    assert "dynamic" in check_model(m).ops[0].reason
    m = _graph("CUSTOM:edgetpu-custom-op", [(1, 8, 8, 4), (1, 8, 8, 4)])
    assert check_model(m).all_on_edgetpu


def test_op_version_the_compiler_cannot_parse():
    m = _graph("QUANTIZE", [(1, 8, 8, 4), (1, 8, 8, 4)])
    m.ops[0] = replace(m.ops[0], version=3)
    r = check_model(m)
    assert r.ops[0].status == ck.VERSION and "could not be parsed" in r.rejects and r.exit_code == 3


# ------------------------------------------------------------------ command line
def test_cli_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["edgetpu", "check", str(tb.tiny("uint8"))])
    assert ok.exit_code == 0 and "8 of 8 ops predicted on the Edge TPU" in ok.output
    part = runner.invoke(cli, ["edgetpu", "check", str(tb.planted("leaky_relu")), "--json"])
    assert part.exit_code == 3
    d = json.loads(part.output)
    assert d["first_blocker"]["opcode"] == "LEAKY_RELU" and d["counts"]["edgetpu"] == 2 and len(d["ops"]) == 7
    verbose = runner.invoke(cli, ["edgetpu", "check", "-v", str(tb.tiny(None))])
    assert (
        verbose.exit_code == 3 and "Model not quantized" in verbose.output and "first blocker: op 0" in verbose.output
    )
    bad = tmp_path / "notes.txt"
    bad.write_text("not a model")
    res = runner.invoke(cli, ["edgetpu", "check", str(bad)])
    assert res.exit_code == 2 and "not a TFLite model" in res.output
    missing = runner.invoke(cli, ["edgetpu", "check", str(tmp_path / "nope.tflite")])
    assert missing.exit_code == 2 and "not found" in missing.output
