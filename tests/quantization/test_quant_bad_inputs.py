"""Bad input to eval --model-file, convert's int8 fixes and quant-report: one line, non-zero exit, nothing written."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from helpers import one_line_error

from edgenet.cli.main import cli

pytestmark = pytest.mark.parametrize("fidelity_data", ["shapes"], indirect=True)  # real photos add nothing here


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory):
    """A random lite0 (3 classes, 32 px) exported to ONNX, with and without convert's report.json beside it."""
    import torch
    from edgenet.converters.onnx_export import export_onnx

    from edgenet.loading import load_model

    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=3, img_size=32)
    root = tmp_path_factory.mktemp("artifact")
    (root / "with_report").mkdir()
    export_onnx(loaded.model, 32, root / "with_report" / "model.onnx", 17, False)
    report = {"preprocess": loaded.preprocess.to_dict(), "classes": ["airplane", "cat", "ship"]}
    (root / "with_report" / "report.json").write_text(json.dumps(report))
    (root / "lone").mkdir()
    shutil.copy(root / "with_report" / "model.onnx", root / "lone" / "model.onnx")
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory, fidelity_data):
    """The test images, plus a folder with a class the model does not know."""
    root = tmp_path_factory.mktemp("eval_images")
    shutil.copytree(fidelity_data.test / "cat", root / "cat")
    shutil.copytree(fidelity_data.test / "ship", root / "truck")
    return root


@pytest.mark.slow
def test_artifact_without_report_asks_for_its_preprocessing(onnx_artifact, fidelity_data):
    model = onnx_artifact / "lone" / "model.onnx"
    line = one_line_error(invoke("eval", "--model-file", model, "--data", fidelity_data.test))
    assert str(model) in line and "--mean R,G,B --std R,G,B --img-size N" in line
    # given them, it runs; without names, the sorted class folders are the outputs
    r = invoke(
        "eval", "--model-file", model, "--data", fidelity_data.test, "--json", "-q",
        "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "--img-size", "32",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["classes"] == ["airplane", "cat", "ship"] and json.loads(r.output)["n"] == 90
    r = invoke("eval", "--model-file", model, "--data", fidelity_data.test, "--mean", "1,2", "--std", "1,1,1")
    assert r.exit_code == 2 and "'1,2': give three comma-separated numbers" in r.output  # click's usage error


def test_eval_names_the_classes_the_model_does_not_know(onnx_artifact, images):
    line = one_line_error(
        invoke("eval", "--model-file", onnx_artifact / "with_report" / "model.onnx", "--data", images)
    )
    assert "['truck']" in line and "airplane, cat, ship" in line


@pytest.mark.slow
def test_eval_wrong_resolution_and_source_choice(onnx_artifact, fidelity_data, trained_lite0):
    model = onnx_artifact / "with_report" / "model.onnx"
    line = one_line_error(invoke("eval", "--model-file", model, "--data", fidelity_data.test, "--img-size", "64"))
    assert "takes 32×32 images, not 64" in line
    both = invoke("eval", "--model-file", model, "--checkpoint", trained_lite0, "--data", fidelity_data.test)
    assert "either --checkpoint FILE or --model-file" in one_line_error(both)
    assert "either" in one_line_error(invoke("eval", "--data", fidelity_data.test))
    line = one_line_error(invoke("eval", "--model-file", model.with_suffix(".pt"), "--data", fidelity_data.test))
    assert "pass a .tflite or .onnx file" in line


def test_convert_rejects_unknown_keep_float_names_before_converting(tmp_path, fidelity_data):
    out = tmp_path / "out"
    args = ["convert", "--model", "lite0", "--num-classes", "3", "--img-size", "32", "--out", out]
    line = one_line_error(invoke(*args, "--keep-float", "stages.6.0.project,stages.9.9.se,heads"))
    assert "no layer named stages.9.9.se, heads" in line
    assert "valid layers: stem, stages.0.0.depthwise, stages.0.0.project," in line and line.endswith("N worst)")
    assert "either --keep-float or --auto-fix" in one_line_error(invoke(*args, "--keep-float", "2", "--auto-fix"))
    assert "--eval-data DIR" in one_line_error(invoke(*args, "--auto-fix"))
    assert "Edge TPU cannot run" in one_line_error(invoke(*args, "--keep-float", "1", "--edgetpu"))
    assert not out.exists()


def test_eval_data_that_does_not_fit_the_model_fails_before_converting(tmp_path, images):
    out = tmp_path / "out"
    assert "nope.pt: checkpoint not found" in one_line_error(invoke("quant-report", "--checkpoint", "nope.pt"))
    args = ["--model", "lite0", "--img-size", "32", "--num-classes", "3", "--out", out]
    for command in (["convert", "--int8"], ["quant-report"]):  # 2 class folders, 3 outputs and no class names
        line = one_line_error(invoke(*command, *args, "--eval-data", images))
        assert f"{images}: 2 class folders for a model with 3 outputs" in line
    assert not out.exists()
