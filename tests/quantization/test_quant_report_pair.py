"""``quant-report --model-file``: an existing float/int8 .tflite pair analysed without its checkpoint, with every
calibration method measured on the same images."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from edgenet.cli.main import cli

pytestmark = pytest.mark.slow


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_an_existing_pair_is_ranked_and_methods_are_measured(converted_lite0_uint8, photos_dir, tmp_path):
    out, _, _ = converted_lite0_uint8
    pair = tmp_path / "pair"
    shutil.copytree(out, pair)
    labelled = tmp_path / "labelled"  # the photos' wnid folders under the model's class names
    for wnid, name in {"n02123045": "tabby", "n03773504": "missile", "n07920052": "espresso"}.items():
        shutil.copytree(photos_dir / wnid, labelled / name)
    r = invoke(
        "quant-report", "--model-file", pair / "model_int8.tflite", "--calib-data", photos_dir,
        "--calib-samples", "12", "--samples", "6", "--eval-data", labelled, "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output[r.output.index("{") :])
    assert rep["errors"] == "accumulated" and rep["files_analysed"]["int8"].endswith("model_int8.tflite")
    layers = rep["layers"]
    assert len(layers) > 20 and [e["rank"] for e in layers] == list(range(1, len(layers) + 1))
    assert all(e["layer"] != "?" for e in layers)  # named after the network through model.onnx beside it
    assert layers[0]["sqnr_db"] <= layers[-1]["sqnr_db"]
    assert [t["method"] for t in rep["methods"]] == ["minmax", "percentile", "mse"]
    assert all(0 <= t["top1"] <= 1 and t["n"] == 24 for t in rep["methods"])
    assert rep["accuracy"]["int8"]["n"] == 24 and rep["drop"] is not None
    assert any("calibration" in s for s in rep["suggestions"])
    assert sorted(p.name for p in (pair / "quant-report").iterdir()) == [
        "error_by_depth.png", "layers.csv", "report.json",
    ]  # fmt: skip


def test_pair_mode_refuses_bad_inputs_in_one_line(converted_lite0_uint8, tmp_path):
    out, _, _ = converted_lite0_uint8
    pair = tmp_path / "pair"
    shutil.copytree(out, pair)
    int8 = pair / "model_int8.tflite"
    cases = [
        (["--out", pair], "holds"),  # the report would replace the folder of the models
        (["--float", int8], "not a float model"),
        (["--float", tmp_path / "missing.tflite"], "not found; pass the float model with --float"),
        (["--model", "b0"], "--model-file analyses a file; drop --model"),
    ]
    for extra, says in cases:
        r = invoke("quant-report", "--model-file", int8, *extra)
        assert r.exit_code != 0 and says in r.output, (extra, r.output)
    assert (pair / "model_int8.tflite").stat().st_size == (out / "model_int8.tflite").stat().st_size
    cut = tmp_path / "cut" / "model_int8.tflite"
    cut.parent.mkdir()
    cut.write_bytes(int8.read_bytes()[:5000])
    r = invoke("quant-report", "--model-file", cut, "--float", pair / "model_fp32.tflite")
    assert r.exit_code != 0 and "truncated or corrupt TFLite model" in r.output
