"""--calibration methods and --quantizer aeq: the range rules on known histograms, the ranges written back into the
calibrated model, and every quantizer × method making a full-integer model the Edge TPU check accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from edgenet.converters.edgetpu.check import check_model
from edgenet.converters.kinds import BuildContext, full_integer
from edgenet.converters.pipeline import build_artifact
from edgenet.quantization import aeq
from edgenet.quantization.calibration import Calibration
from edgenet.quantization.calibration_methods import METHODS, choose_ranges, mse, parse_method, percentile
from edgenet.quantization.quantizers import QUANTIZERS, get_quantizer
from edgenet.quantization.ranges import boundary_tensors, read_ranges, write_ranges
from edgenet.quantization.recipe import Int8Recipe
from helpers import realistic_bn, realistic_lite0

from edgenet.artifacts.runtime import TFLiteRunner
from edgenet.artifacts.tflite_model import read_tflite
from edgenet.errors import EdgenetError
from edgenet.loading import load_model


def _hist(values: np.ndarray, lo: float, hi: float, bins: int = 2048) -> np.ndarray:
    return np.histogram(values, bins, range=(lo, hi))[0]


def test_percentile_drops_one_outlier_and_keeps_a_relu_floor():
    rng = np.random.default_rng(0)
    v = np.concatenate([np.abs(rng.normal(0, 1, 100_000)), [60.0]])  # post-ReLU values and one outlier
    lo, hi = 0.0, 60.0
    a, b = percentile(_hist(v, lo, hi), lo, hi, 99.99)
    assert a == 0.0 and 3.0 < b < 5.0  # the outlier no longer sets the int8 step
    a, b = percentile(_hist(v, lo, hi), lo, hi, 100.0)
    assert (a, b) == (0.0, pytest.approx(60.0))


def test_percentile_of_signed_values_keeps_zero_inside():
    rng = np.random.default_rng(1)
    v = rng.normal(2.0, 0.1, 50_000)  # all positive but a signed tensor (lo < 0 recorded)
    a, b = percentile(_hist(v, -0.5, 3.0), -0.5, 3.0, 99.9)
    assert a <= 0.0 < b <= 3.0


def test_mse_clips_a_long_tail_but_not_a_uniform_range():
    rng = np.random.default_rng(2)
    tail = rng.laplace(0, 1, 200_000)  # the heavy tail of a SiLU/SE activation
    lo, hi = float(tail.min()), float(tail.max())
    a, b = mse(_hist(tail, lo, hi), lo, hi)
    assert 0.9 * lo < a < 0.6 * lo and 0.6 * hi < b < 0.9 * hi
    two = np.concatenate([rng.normal(0, 1, 200_000), [-40.0, 40.0]])  # rare but huge values: clipping costs more
    a, b = mse(_hist(two, -40, 40), -40.0, 40.0)
    assert a < -25 and b > 25
    flat = rng.uniform(-1, 1, 200_000)
    a, b = mse(_hist(flat, -1, 1), -1.0, 1.0)
    assert a < -0.95 and b > 0.95  # clipping a uniform distribution only adds error


def test_parse_method_defaults_and_one_line_errors():
    assert parse_method("minmax") == (METHODS["minmax"], None)
    assert parse_method("percentile") == (METHODS["percentile"], 99.99)
    assert parse_method("Percentile:99.9")[1] == 99.9
    for bad, says in [
        ("entropy", "unknown; choose one of minmax, percentile, mse"),
        ("percentile:abc", "a number in (50, 100]"),
        ("percentile:101", "a number in (50, 100]"),
        ("mse:3", "mse takes no parameter"),
    ]:
        with pytest.raises(EdgenetError, match=says.replace("(", r"\(").replace("]", r"\]")) as e:
            parse_method(bad)
        assert "\n" not in str(e.value)


def test_choose_ranges_keeps_boundaries_and_constant_tensors():
    rng = np.random.default_rng(3)
    v = np.concatenate([np.abs(rng.normal(0, 1, 10_000)), [50.0]])
    ranges = {"in": (0.0, 50.0), "mid": (0.0, 50.0), "flat": (1.0, 1.0)}
    hists = {"in": _hist(v, 0, 50), "mid": _hist(v, 0, 50)}
    out = choose_ranges(METHODS["percentile"], 99.9, ranges, hists, keep={"in"})
    assert out["in"] == (0.0, 50.0) and out["flat"] == (1.0, 1.0)
    assert out["mid"][1] < 10
    assert choose_ranges(METHODS["minmax"], None, ranges, hists) == ranges


@pytest.fixture(scope="module")
def graph(tmp_path_factory, photos_dir):
    """lite0 at 64 px with real photos' BatchNorm statistics, its float graph and 16 calibration samples."""
    _, graph, samples = realistic_lite0(tmp_path_factory.mktemp("g"), photos_dir, 5, 16, 4)
    return graph, samples


@pytest.mark.slow
def test_ranges_round_trip_through_the_calibrated_model(graph):
    g, samples = graph
    cal = Calibration(g.fp32, samples)
    calibrated = cal.model(get_quantizer("tflite"))
    ranges = read_ranges(calibrated)
    assert len(ranges) > 20 and all(lo <= hi for lo, hi in ranges.values())
    name = next(n for n in ranges if n not in boundary_tensors(g.fp32))
    narrowed = write_ranges(calibrated, {name: (-1.0, 2.0)})
    assert read_ranges(narrowed)[name] == (-1.0, 2.0)
    assert {n: r for n, r in read_ranges(narrowed).items() if n != name} == {
        n: r for n, r in ranges.items() if n != name
    }
    # a method's calibration is cached per method and narrows ranges, never widens them
    pct = cal.model(get_quantizer("tflite"), "percentile:99")
    assert cal.model(get_quantizer("tflite"), "percentile:99") is pct
    narrowed = read_ranges(pct)
    assert any(narrowed[n] != ranges[n] for n in ranges)
    assert all(ranges[n][0] <= narrowed[n][0] and narrowed[n][1] <= ranges[n][1] + 1e-6 for n in ranges)


@pytest.mark.slow
@pytest.mark.parametrize("quantizer", list(QUANTIZERS))
@pytest.mark.parametrize("method", list(METHODS))
def test_every_quantizer_and_method_is_full_integer_and_edgetpu_ready(graph, tmp_path, quantizer, method):
    g, samples = graph
    data, _ = build_artifact("int8", BuildContext(g, samples, Int8Recipe(quantizer, method, "uint8")))
    path = tmp_path / "model_int8.tflite"
    path.write_bytes(data)
    info = read_tflite(path)
    assert full_integer(info) and info.input_details[0].dtype == "uint8"
    check = check_model(info)
    assert check.all_on_edgetpu, check.first_blocker
    cos = TFLiteRunner(path)(g.parity_x).ravel() @ g.fp32_out.ravel()
    assert cos > 0  # it computes the same function (sign of agreement; fidelity is the benchmarks' job)


@pytest.mark.slow
@pytest.mark.parametrize("io", ["int8", "float32"])
def test_aeq_io_types(graph, tmp_path, io):
    g, samples = graph
    data = get_quantizer("aeq").int8(Calibration(g.fp32, samples).model(get_quantizer("aeq")), io, ())
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    info = read_tflite(path)
    assert info.input_details[0].dtype == io and info.output_details[0].dtype == io


@pytest.mark.slow
def test_aeq_16x8_has_int16_activations(graph, tmp_path):
    g, samples = graph
    data, _ = build_artifact("int16", BuildContext(g, samples, Int8Recipe("aeq")))
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    info = read_tflite(path)
    assert info.input_details[0].dtype == "int16"
    acts = {info.tensors[o].dtype for op in info.ops if op.opcode == "CONV_2D" for o in op.outputs}
    assert acts == {"int16"}


def test_what_cannot_apply_says_so_in_one_line(monkeypatch):
    with pytest.raises(EdgenetError, match="float fallback of single layers is the tflite quantizer's") as e:
        aeq.int8(b"", "int8", ["some/tensor"])
    assert "\n" not in str(e.value)
    monkeypatch.setattr(aeq, "available", lambda: False)
    with pytest.raises(EdgenetError, match="pip install 'ai-edge-quantizer"):
        aeq.int8(b"", "int8", ())


@pytest.mark.slow
def test_cli_calibration_errors_before_any_work(tmp_path):
    from edgenet.cli.main import cli

    args = ["convert", "--model", "b0", "--int8", "--calibration", "mse:3", "--out", str(tmp_path)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0 and "mse takes no parameter" in r.output
    assert not any(tmp_path.iterdir())
    r = CliRunner().invoke(cli, ["convert", "--model", "b0", "--quantizer", "onnx"])
    assert r.exit_code == 2 and "'onnx' is not one of 'tflite', 'aeq'" in r.output


@pytest.mark.slow
def test_report_names_quantizer_and_method(tmp_path, photos_dir):
    from edgenet.converters.pipeline import ConvertOptions, convert

    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=5, img_size=64)
    realistic_bn(loaded.model, photos_dir, 64)
    out = tmp_path / "out"
    opts = ConvertOptions(
        out=out, int8=True, quantizer="aeq", calibration="percentile:99.9", calib_data=photos_dir, calib_samples=8
    )
    convert(loaded, opts)
    r = json.loads((out / "report.json").read_text())
    assert r["quantizer"] == "aeq"
    assert r["calibration"]["method"] == "percentile" and r["calibration"]["params"] == {"percentile": 99.9}


def test_method_advice_needs_a_measurable_gain():
    from edgenet.quantization.pair_errors import MethodTrial, method_advice

    base = MethodTrial("minmax", 0.96, 19.1, 0.8800, 900)
    one_image = [base, MethodTrial("percentile", 0.97, 19.4, 0.8811, 900)]
    assert method_advice(one_image, "tflite")[0].startswith("calibration methods: none measurably beats min/max")
    real = [base, MethodTrial("percentile", 0.97, 19.4, 0.8811, 900), MethodTrial("mse", 0.97, 19.6, 0.8900, 900)]
    (advice,) = method_advice(real, "aeq")
    assert advice.startswith("--calibration mse: top-1 88.00 → 89.00 % on 900 images") and "--quantizer aeq" in advice
    unlabelled = [MethodTrial("minmax", 0.96, 19.1, samples=100), MethodTrial("mse", 0.96, 20.5, samples=100)]
    assert "logits SQNR 19.1 → 20.5 dB" in method_advice(unlabelled, "tflite")[0]
    one_more = [MethodTrial("minmax", 0.96, 19.1, samples=100), MethodTrial("mse", 0.97, 19.4, samples=100)]
    assert "none measurably beats" in method_advice(one_more, "tflite")[0]
