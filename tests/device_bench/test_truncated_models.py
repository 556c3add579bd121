"""A cut-off or mislabelled model file is a one-line error in every command that reads one (issue 13.7).

``head -c 100000 m.tflite > t.tflite`` gave a ``struct.error`` traceback in bench, eval --model-file, edgetpu
check/compile and bundle; a bad or renamed .onnx in ``eval --model-file`` gave ONNX Runtime's InvalidProtobuf.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import one_line_error

from edgenet.cli.main import cli


def _cut(src: Path, dest: Path, keep: int) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src.read_bytes()[:keep])
    for side in ("report.json", "labels.txt"):  # the sidecars stay, as they would after a broken copy
        shutil.copy(src.parent / side, dest.parent / side)
    return dest


@pytest.fixture
def cut_tflite(tiny, tmp_path) -> Path:
    full = tiny / "tflite" / "model_int8.tflite"
    return _cut(full, tmp_path / "m" / "model_int8.tflite", full.stat().st_size // 2)


def _one_line_error(args: list[str], name: str, what: str = "truncated or corrupt TFLite model") -> None:
    one_line_error(CliRunner().invoke(cli, args), name, what)


@pytest.mark.parametrize("keep", [100, 1000, -16])  # in the header, in the tables, in the last weights
def test_every_tflite_reader_refuses_a_cut_file(tiny, tmp_path, keep):
    from edgenet.artifacts.runtime import TFLiteRunner
    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.errors import EdgenetError

    full = tiny / "tflite" / "model_fp32.tflite"
    cut = _cut(full, tmp_path / "m" / "model_fp32.tflite", keep if keep > 0 else full.stat().st_size + keep)
    for read in (read_tflite, TFLiteRunner):
        with pytest.raises(EdgenetError, match=r"model_fp32\.tflite: truncated or corrupt TFLite model"):
            read(cut)
    assert len(read_tflite(full).tensors) > 0


def test_bench(cut_tflite, tmp_path):
    _one_line_error(["bench", str(cut_tflite), "--db", str(tmp_path / "r.sqlite")], cut_tflite.name)


def test_eval_model_file(cut_tflite, tiny):
    _one_line_error(["eval", "--model-file", str(cut_tflite), "--data", str(tiny / "eval")], cut_tflite.name)


def test_edgetpu_check_and_compile(cut_tflite, tmp_path):
    _one_line_error(["edgetpu", "check", str(cut_tflite)], cut_tflite.name)
    _one_line_error(["edgetpu", "compile", str(cut_tflite), "--out", str(tmp_path / "c")], cut_tflite.name)


def test_bundle(cut_tflite, tmp_path):
    _one_line_error(["bundle", str(cut_tflite), "--out", str(tmp_path / "b")], cut_tflite.name)


def test_eval_with_a_cut_or_renamed_onnx(tiny, tmp_path):
    onnx = tiny / "torch" / "model.onnx"
    cut = _cut(onnx, tmp_path / "cut" / "model.onnx", onnx.stat().st_size // 2)
    renamed = _cut(tiny / "tflite" / "model_fp32.tflite", tmp_path / "renamed" / "model.onnx", 10**9)
    for bad in (cut, renamed):
        _one_line_error(["eval", "--model-file", str(bad), "--data", str(tiny / "eval")], bad.name, "ONNX model")
