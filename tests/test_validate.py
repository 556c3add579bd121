"""The Python API refuses what the CLI refuses, with the CLI's one-line message, as a ValueError (issue 26.10), and
the usage errors of issue 26.6 (`--keep-float ,,,`, `--latency-budget` without `--auto-fix`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgenet import api, create_model
from edgenet.cli.main import cli
from edgenet.errors import EdgenetError
from edgenet.validate import ArgumentError, keep_float


def refused(call, *phrases: str) -> str:
    with pytest.raises(ValueError) as e:
        call()
    assert isinstance(e.value, ArgumentError) and isinstance(e.value, EdgenetError)
    msg = str(e.value)
    assert "\n" not in msg and all(p in msg for p in phrases), msg
    return msg


def cli_line(args: list[str]) -> str:
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [x for x in r.output.splitlines() if x.startswith("error:")]
    return line.removeprefix("error: ")


@pytest.mark.parametrize(
    "kw, phrase",
    [
        ({"num_classes": 0}, "--num-classes 0: must be from 1"),
        ({"num_classes": -1}, "--num-classes -1: must be from 1"),
        ({"num_classes": 2.5}, "--num-classes 2.5: must be a whole number"),
        ({"width_mult": 50.0}, "width multiplier 50: must be greater than 0 and at most 4"),
        ({"depth_mult": 0.0}, "depth multiplier 0: must be greater than 0"),
    ],
)
def test_create_model_refuses_sizes_that_cannot_be_built(kw, phrase):
    """Before: ZeroDivisionError (0), a RuntimeError from torch (-1), a TypeError (2.5), or minutes of building."""
    refused(lambda: create_model("b0", **kw), phrase)


def test_create_model_needs_a_name():
    refused(lambda: create_model(None), "--model None: must be a non-empty string")  # before: AttributeError


def test_the_cli_and_the_api_say_the_same_line(tmp_path):
    api_msg = refused(lambda: create_model("b0", num_classes=0), "--num-classes 0")
    assert cli_line(["convert", "--model", "b0", "--num-classes", "0", "--out", str(tmp_path / "o")]) == api_msg


@pytest.mark.parametrize(
    "options, phrase",
    [
        ({"calib_samples": -1}, "--calib-samples -1: must be at least 1"),
        ({"parity_samples": 0}, "--parity-samples 0: must be at least 1"),
        ({"parity_samples": "8"}, "--parity-samples '8': must be a whole number"),
        ({"opset": 99}, "--opset 99: must be from 17 to"),
        ({"keep_float": ",,,"}, "--keep-float ',,,': empty layer name(s)"),
        ({"keep_float": "a,,b"}, "empty layer name(s)"),
        ({"keep_float": "0"}, "--keep-float 0: must be at least 1"),
        ({"latency_budget_ms": 5.0}, "--latency-budget applies only with --auto-fix"),
        ({"max_drop": float("nan")}, "--max-drop nan: must be a finite number"),
        ({"min_agreement": 1.5}, "--min-agreement 1.5: must be at least 0 and at most 1"),
        ({"int8": "yes"}, "--int8 'yes': must be True or False"),
    ],
)
def test_api_convert_validates_like_the_cli(options, phrase, tmp_path):
    loaded = api.load_model("b0", num_classes=3, img_size=32)
    refused(lambda: api.convert(loaded, tmp_path / "out", **options), phrase)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "flags, phrase",
    [
        (["--keep-float", ",,,", "--int8"], "--keep-float ',,,': empty layer name(s)"),
        (["--latency-budget", "5"], "--latency-budget applies only with --auto-fix"),
        (["--calib-samples", "-1"], "--calib-samples -1: must be at least 1"),
        (["--parity-samples", "0"], "--parity-samples 0: must be at least 1"),
        (["--opset", "99"], "--opset 99: must be from 17 to"),
    ],
)
def test_cli_convert_usage_errors_are_the_api_s(flags, phrase, tmp_path):
    """Before: --keep-float ,,, and --latency-budget without --auto-fix were accepted and ignored; --opset 99 failed
    inside torch.onnx as a converter failure (exit 4)."""
    line = cli_line(
        ["convert", "--model", "b0", "--img-size", "32", "--num-classes", "3", "--out", str(tmp_path / "o"), *flags]
    )
    assert phrase in line
    assert not (tmp_path / "o").exists()


def test_api_convert_and_quant_report_need_an_output_path():
    loaded = api.load_model("b0", num_classes=3, img_size=32)
    refused(lambda: api.convert(loaded, None), "--out None: must be a path")
    refused(lambda: api.quant_report(loaded, None), "--out None: must be a path")
    refused(lambda: api.quant_report(loaded, "o", calib_samples=0), "--calib-samples 0: must be at least 1")
    refused(lambda: api.convert(None, "o"), "model None: must be a non-empty string")


@pytest.fixture(scope="module")
def tflite_file(tmp_path_factory):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "device_bench"))
    import tiny_models

    return tiny_models.ensure(tmp_path_factory.getbasetemp() / "tiny_models") / "tflite" / "model_fp32.tflite"


@pytest.mark.parametrize(
    "kw, phrase",
    [
        ({"runs": 0}, "--runs 0: must be at least 1"),  # before: KeyError
        ({"batch": (0,)}, "--batch 0: must be at least 1"),  # before: a 0.004 ms row
        ({"batch": ()}, "--batch: give at least one value"),
        ({"seconds": -1.0}, "--seconds -1: must be greater than 0"),
        ({"warmup": -5}, "--warmup -5: must be at least 0"),
        ({"threads": (0,)}, "--threads 0: must be from 1 to 1024"),
        ({"threads": "2"}, "--threads '2': must be a list of whole numbers"),
        ({"target": None}, "--target None: must be a non-empty string"),
    ],
)
def test_api_bench_validates_like_the_cli(tflite_file, kw, phrase):
    refused(lambda: api.bench([tflite_file], **kw), phrase)


def test_api_bench_refuses_one_string_for_the_list_of_files(tflite_file):
    refused(lambda: api.bench(str(tflite_file)), "models '", "must be a list of files")


@pytest.mark.parametrize(
    "flags, phrase",
    [
        (["--runs", "0"], "--runs 0: must be at least 1"),
        (["--batch", "0"], "--batch 0: must be at least 1"),
        (["--seconds", "-1"], "--seconds -1: must be greater than 0"),
        (["--warmup", "-5"], "--warmup -5: must be at least 0"),
    ],
)
def test_cli_bench_says_what_the_api_says(tflite_file, flags, phrase):
    assert phrase in cli_line(["bench", str(tflite_file), *flags])


def test_keep_float_forms():
    assert keep_float("3") == "3" and keep_float("a, b") == "a, b" and keep_float(None) is None


def test_unknown_or_malformed_model_names_are_value_errors_too():
    refused(lambda: create_model("b99"), "unknown model 'b99'")
    refused(lambda: create_model("phi:nan"), "model 'phi:nan': phi must be a finite number")
