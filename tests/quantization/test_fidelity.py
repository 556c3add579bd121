"""int8 fidelity end to end on a small trained model: artefact accuracy, the per-layer report, and the fixes."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from edgenet.quantization.layer_names import match_tensors

from edgenet.artifacts.tflite_model import read_tflite
from edgenet.cli.main import cli

pytestmark = pytest.mark.slow

DAMAGED = "stages.6.0.project"


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def layer_tensors(out, layer: str) -> set[str]:
    """Names of the TFLite tensors of ``layer``, found independently of the fix code (by value matching)."""
    from edgenet.quantization import calibration

    pre = read_report(out)["preprocess"]
    from edgenet.preprocess import Preprocess

    sample = calibration.synthetic(Preprocess.from_dict(pre), 1).samples[0]
    locations = match_tensors(out / "model_fp32.tflite", out / "model.onnx", sample)
    return {name for name, loc in locations.items() if loc.layer == layer}


def read_report(out) -> dict:
    return json.loads((out / "report.json").read_text())


def dtypes(path, names: set[str]) -> set[str]:
    return {t.dtype for t in read_tflite(path).tensors if t.name in names}


def test_int8_artifact_scores_like_its_float_twin(converted_trained, fidelity_data):
    out, report = converted_trained
    acc, agree = report["accuracy"], report["agreement"]
    assert list(acc) == ["torch", "onnx", "fp32", "int8"] and set(agree) == {"onnx", "fp32", "int8"}
    assert acc["torch"]["n"] == 90 and acc["torch"]["top1"] > 0.45  # trained: chance is 1/3
    assert abs(acc["onnx"]["top1"] - acc["torch"]["top1"]) <= 1 / 90 and agree["onnx"] >= 0.98
    assert abs(acc["fp32"]["top1"] - acc["torch"]["top1"]) <= 1 / 90 and agree["fp32"] >= 0.98
    assert abs(acc["int8"]["top1"] - acc["fp32"]["top1"]) <= 0.05 and agree["int8"] >= 0.85

    # `edgenet eval --model-file` scores the artefact with its own int8 I/O and the checkpoint's preprocessing
    # (read from report.json): the same number convert reported
    r = invoke("eval", "--model-file", out / "model_int8.tflite", "--data", fidelity_data.test, "--json", "-q")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.output)
    assert metrics["top1"] == pytest.approx(acc["int8"]["top1"]) and metrics["classes"] == ["airplane", "cat", "ship"]
    r = invoke("eval", "--model-file", out / "model.onnx", "--data", fidelity_data.test, "--json", "-q")
    assert json.loads(r.output)["top1"] == pytest.approx(acc["onnx"]["top1"])


def test_damaging_one_channel_leaves_float_unchanged(trained_lite0, damaged_lite0):
    import torch

    from edgenet.checkpoint import load_checkpoint

    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        a, b = load_checkpoint(trained_lite0).build()(x), load_checkpoint(damaged_lite0).build()(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def test_report_ranks_the_damaged_layer_first(damaged_lite0, fidelity_data, tmp_path):
    out = tmp_path / "qr"
    r = invoke(
        "quant-report", "--checkpoint", damaged_lite0, "--calib-data", fidelity_data.train,
        "--calib-samples", "48", "--samples", "16", "--top", "5", "--adaround-iterations", "50", "--out", out, "-q",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    table = r.output.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("#"))
    assert DAMAGED in table[header + 2] and "6/0" in table[header + 2]  # first row under the header rule
    assert len([line for line in table[header + 2 :] if line[:1].isdigit()]) == 5

    report = read_report(out)
    first, second = report["layers"][:2]
    assert (first["layer"], first["stage"], first["block"], first["part"], first["op"]) == (
        DAMAGED, 6, 0, "project", "CONV_2D",
    )  # fmt: skip
    # most channels of that tensor are flattened: per-channel SQNR ~0 dB, below every other layer (the margin to
    # the runner-up depends on the tiny model's random init: 6–28 dB seen, so only the order is asserted)
    assert first["channel_sqnr_db"] < 5
    assert min(second["sqnr_db"], second["channel_sqnr_db"]) > first["channel_sqnr_db"]
    # the calibration methods, then the weights rounded before export, cheapest first, each measured
    methods = [m["method"] for m in report["methods"]]
    assert methods == ["minmax", "percentile", "mse", "rounding:bias-correction", "rounding:adaround+bias-correction"]
    assert all(0 <= m["agreement"] <= 1 and m["logits_sqnr_db"] is not None for m in report["methods"])
    assert "rounding:adaround+bias-correction" in r.output
    assert all(e["layer"] != "?" for e in report["layers"])  # every quantized tensor found its layer
    with open(out / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report["layers"]) and rows[0]["layer"] == DAMAGED
    assert (out / "error_by_depth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the advice names the damaged layer first: as a --keep-float fix, or (when the three worst are within rounding
    # noise, which the tiny model's calibration can tip either way) as the worst-ranked layer
    assert DAMAGED in report["suggestions"][0], report["suggestions"][0]


def test_auto_fix_stops_at_the_first_fix_within_the_bound(damaged_lite0, fidelity_data, tmp_path):
    out = tmp_path / "fixed"
    r = invoke(
        "convert", "--checkpoint", damaged_lite0, "--int8", "--calib-data", fidelity_data.train,
        "--calib-samples", "48", "--eval-data", fidelity_data.test, "--auto-fix", "--max-drop", "5", "--out", out,
        "--adaround-iterations", "50",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    fix = read_report(out)["int8_fix"]
    tried = [a["fix"] for a in fix["attempts"]]
    # plain int8, the other quantizer, clipped ranges, more calibration and rounding the weights another way cannot
    # undo an outlier channel (its weights, not its activations, are out of scale); float fallback of the worst
    # layer does, and nothing after it is built. The full-integer candidates come first, cheapest first.
    full = ["none", "quantizer:aeq", "calibration:percentile", "calibration:mse", "samples:180"]
    full += ["rounding:bias-correction", "rounding:adaround+bias-correction"]
    assert tried == [*full, "keep-float:1"], tried
    assert [a["accepted"] for a in fix["attempts"]] == [False] * len(full) + [True]
    assert all(a["full_integer"] for a in fix["attempts"][: len(full)])
    assert (fix["quantizer"], fix["method"]) == ("tflite", "minmax") and fix["gain"] > 0
    assert fix["attempts"][0]["drop"] > 5 and fix["attempts"][-1]["drop"] <= 5
    assert (fix["fix"], fix["kept_float"], fix["float_readers"], fix["full_integer"]) == (
        "keep-float:1", [DAMAGED], ["head"], False,
    )  # fmt: skip
    assert fix["worst_layers"][0]["layer"] == DAMAGED
    assert "kept in float: stages.6.0.project (+ their readers: head): no longer full-integer" in r.output

    report = read_report(out)
    int8 = next(a for a in report["artifacts"] if a["name"] == "int8")
    assert int8["full_integer"] is False and "DEQUANTIZE" in int8["ops"]
    assert any("no longer full-integer" in w for w in report["warnings"])
    assert report["accuracy"]["torch"]["top1"] - report["accuracy"]["int8"]["top1"] <= 0.05
    model = out / "model_int8.tflite"
    assert dtypes(model, layer_tensors(out, DAMAGED)) == {"float32"}
    assert dtypes(model, layer_tensors(out, "head")) == {"float32"}
    assert dtypes(model, layer_tensors(out, "stages.5.3.project")) == {"int8"}


def test_keep_float_by_name_keeps_those_tensors_float(damaged_lite0, fidelity_data, tmp_path):
    out = tmp_path / "kept"
    r = invoke(
        "convert", "--checkpoint", damaged_lite0, "--int8", "--calib-data", fidelity_data.train,
        "--calib-samples", "48", "--keep-float", "stages.6.0.project,stages.4.2", "--out", out, "-q", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    fix = report["int8_fix"]
    block = ["stages.4.2.expand", "stages.4.2.depthwise", "stages.4.2.project", "stages.4.2.residual"]
    assert fix["fix"] == "keep-float" and fix["kept_float"] == [DAMAGED, *block] and not fix["attempts"]
    model = out / "model_int8.tflite"
    for layer in (DAMAGED, *block):
        assert dtypes(model, layer_tensors(out, layer)) == {"float32"}, layer
    assert dtypes(model, layer_tensors(out, "stages.4.1.project")) == {"int8"}
    assert read_tflite(model).input_details[0].dtype == "int8"  # the model's I/O stays integer
