"""``quant-report --model-file INT8 --float FP32`` analyses one network quantized and not: any other pair is refused
in one line before work (issue 26.5: a 4-class int8 against a 1000-class float model ran to the end and advised
layers to keep float; a float model as --model-file gave an empty --keep-float advice)."""

from __future__ import annotations

import shutil

import pytest
import tflite_builders as tb
from click.testing import CliRunner

from edgenet.cli.main import cli
from edgenet.errors import EdgenetError
from edgenet.workflows.quant_report import quant_report_pair


@pytest.fixture
def pair(tmp_path):
    d = tmp_path / "pair"
    d.mkdir()
    shutil.copy(tb.tiny("uint8"), d / "model_int8.tflite")
    shutil.copy(tb.tiny(None), d / "model_fp32.tflite")
    shutil.copy(tb.tiny4_float(), d / "other_fp32.tflite")
    return d


def test_a_float_model_of_another_class_count_is_not_the_twin(pair, tmp_path):
    with pytest.raises(EdgenetError, match=r"not the float twin of model_int8.tflite .*classes \[4\] vs \[5\]"):
        quant_report_pair(pair / "model_int8.tflite", tmp_path / "out", fp32_path=pair / "other_fp32.tflite")
    assert not (tmp_path / "out").exists()


def test_a_float_model_given_as_the_int8_one_is_refused(pair, tmp_path):
    with pytest.raises(EdgenetError, match="its layers compute in float"):
        quant_report_pair(pair / "model_fp32.tflite", tmp_path / "out", fp32_path=pair / "model_fp32.tflite")


def test_an_int8_model_given_as_the_float_one_is_refused_by_the_cli(pair, tmp_path):
    int8 = str(pair / "model_int8.tflite")
    r = CliRunner().invoke(cli, ["quant-report", "--model-file", int8, "--float", int8, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--float" in r.output and "not a float model" in r.output, r.output
    assert "Traceback" not in r.output
