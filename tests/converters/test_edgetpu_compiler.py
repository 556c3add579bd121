"""edgetpu_compiler integration: the log parser on real recorded output, and the run/timeout/fallback plumbing.

The parser tests read tests/fixtures/edgetpu_compiler/, each file copied verbatim from a public source named in its
header. No Edge TPU compiler runs here (it is an x86 Debian package from Coral's apt repository, not installed);
the plumbing tests put a stand-in `edgetpu_compiler` on PATH that replays one of those recorded outputs.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
import tflite_builders as tb
from click.testing import CliRunner
from edgenet.converters.edgetpu import compile_or_predict
from edgenet.converters.edgetpu.compiler import INSTALL_HINT, parse_log

from edgenet.cli.main import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edgetpu_compiler"
KIB, MIB = 2**10, 2**20


def body(name: str) -> str:
    text = (FIXTURES / name).read_text()
    return "".join(x for x in text.splitlines(True) if not x.startswith("# "))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_every_fixture_names_its_source_and_parses(name):
    assert (FIXTURES / name).read_text().startswith("# source: ")
    log = parse_log(body(name))
    assert log.compiler_version or log.operators  # every recorded output says something we read
    c = log.counts()
    if c["edgetpu"] is not None:  # the split adds up, and to the compiler's own total when it printed one
        assert c["edgetpu"] + c["cpu"] == c["total"]
        assert log.total_ops is None or c["total"] == log.total_ops


def test_stdout_with_memory_and_partial_mapping():
    log = parse_log(body("issue60_stdout.txt"))
    assert log.compiler_version == "2.1.302470888" and log.compiled and log.compile_ms == 12264
    assert log.on_chip_used_bytes == round(6.86 * MIB) and log.on_chip_remaining_bytes == round(7.75 * KIB)
    assert log.off_chip_used_bytes == round(1.22 * MIB)
    assert (log.input_bytes, log.output_bytes) == (round(8.11 * MIB), round(9.47 * MIB))
    assert (log.edgetpu_subgraphs, log.total_ops, log.ops_edgetpu, log.ops_cpu) == (1, 93, 83, 10)
    assert log.counts() == {"edgetpu": 83, "cpu": 10, "total": 93}
    assert log.operation_log == "model2_edgetpu.log"
    assert [(r.op, r.count, r.mapped) for r in log.operators[:2]] == [("LOGISTIC", 1, False), ("ADD", 10, True)]
    assert log.unmapped[0].status == "More than one subgraph is not supported"


def test_operation_log_reasons():
    log = parse_log(body("tiny_yolo.log"))
    assert log.compiler_version == "14.1.317412892" and log.input_model == "tiny_yolo.tflite"
    reasons = {(r.op, r.status) for r in log.unmapped}
    assert ("RESIZE_NEAREST_NEIGHBOR", "Operation version not supported") in reasons
    assert ("QUANTIZE", "Operation is otherwise supported, but not mapped due to some unspecified limitation") in (
        reasons
    )
    assert log.counts() == {"edgetpu": 19, "cpu": 6, "total": 25}
    table_only = parse_log(body("issue317_transpose_table.txt"))  # a table quoted without its header
    assert table_only.operators[0].op == "TRANSPOSE" and table_only.operators[0].status == "Operation not supported"
    assert table_only.counts() == {"edgetpu": 2, "cpu": 153, "total": 155}


def test_all_mapped_output_has_no_count_lines():
    log = parse_log(body("yolov7_all_mapped_stdout.txt"))
    assert log.ops_edgetpu is None and log.total_ops == 246
    assert log.counts() == {"edgetpu": 246, "cpu": 0, "total": 246}
    assert log.off_chip_used_bytes == round(41.75 * KIB) and not log.unmapped


def test_old_compiler_prints_available_instead_of_remaining():
    log = parse_log(body("f0cal_issue53_stdout.txt"))
    assert log.on_chip_available_bytes == round(7.62 * MIB) and log.on_chip_remaining_bytes is None
    assert log.counts() == {"edgetpu": 63, "cpu": 1, "total": 64}


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("issue213_efficientnetb0_float.txt", "Invalid model: 224_io.tflite: Model not quantized"),
        ("issue879_unparseable_version.txt", "Model could not be parsed"),
        ("issue601_large_activations.txt", "Compilation failed: Compilation failed due to large activation tensors"),
    ],
)
def test_refusals_and_failures(name, error):
    log = parse_log(body(name))
    assert not log.compiled and error in log.error


def test_float_efficientnet_refused_like_the_prediction_says():
    """google-coral/edgetpu#213: the compiler refuses a float EfficientNetB0 outright; so does the prediction."""
    from edgenet.converters.edgetpu.check import check_model

    from edgenet.artifacts.tflite_model import read_tflite

    real = parse_log(body("issue213_efficientnetb0_float.txt"))
    predicted = check_model(read_tflite(tb.tiny(None)))
    assert "Model not quantized" in real.error and "Model not quantized" in predicted.rejects


# ------------------------------------------------------------------ running the compiler
def _fake_compiler(bin_dir: Path, stdout_fixture: str, log_fixture: str | None, rc: int = 0, sleep: float = 0) -> Path:
    """A stand-in `edgetpu_compiler` replaying recorded output, writing <stem>_edgetpu.tflite/.log like the real one."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "edgetpu_compiler"
    (bin_dir / "stdout.txt").write_text(body(stdout_fixture))
    if log_fixture:
        (bin_dir / "oplog.txt").write_text(body(log_fixture))
    exe.write_text(
        f"""#!{sys.executable}
import shutil, sys, time
from pathlib import Path
args = sys.argv[1:]
out = Path(args[args.index("-o") + 1]); model = Path(args[-1]); here = Path(__file__).parent
Path(here / "argv.txt").write_text(" ".join(args))
time.sleep({sleep})
print((here / "stdout.txt").read_text())
if {rc} == 0:
    shutil.copy(model, out / (model.stem + "_edgetpu.tflite"))
    if (here / "oplog.txt").exists():
        shutil.copy(here / "oplog.txt", out / (model.stem + "_edgetpu.log"))
sys.exit({rc})
"""
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _with_path(monkeypatch, bin_dir: Path | None) -> None:
    monkeypatch.setenv("PATH", str(bin_dir) if bin_dir else "/nonexistent")


@pytest.fixture
def int8_model(tmp_path) -> Path:
    dest = tmp_path / "model_int8.tflite"
    dest.write_bytes(tb.tiny("uint8").read_bytes())
    return dest


def test_compile_writes_edgetpu_model_and_parses_both_outputs(tmp_path, monkeypatch, int8_model):
    bin_dir = _fake_compiler(tmp_path / "bin", "yolov7_all_mapped_stdout.txt", "efficientnet_edgetpu_m.log")
    _with_path(monkeypatch, bin_dir)
    out = tmp_path / "out"
    r = compile_or_predict(int8_model, out, timeout_s=60)
    assert r.compiled and r.output == out / "model_int8_edgetpu.tflite" and r.output.is_file()
    assert (out / "model_int8_edgetpu.log").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["model_int8_edgetpu.log", "model_int8_edgetpu.tflite"]
    argv = (bin_dir / "argv.txt").read_text().split()
    assert argv[0] == "-s" and argv[argv.index("--timeout_sec") + 1] == "60" and argv[-1] == str(int8_model)
    d = r.to_dict()
    assert d["source"] == "compiler" and d["compiler_version"] == "16.0.384591198"
    assert d["on_chip_bytes"] == round(5.90 * MIB) and d["off_chip_bytes"] == round(41.75 * KIB)
    assert d["counts"] == {"edgetpu": 246, "cpu": 0, "total": 246} and d["file"] == "model_int8_edgetpu.tflite"
    assert d["prediction"]["counts"]["total"] == 8 and d["prediction_agrees"] is False
    json.dumps(d)  # report.json-ready


def test_compiler_refusal_is_reported_not_raised(tmp_path, monkeypatch, int8_model):
    _with_path(monkeypatch, _fake_compiler(tmp_path / "bin", "issue213_efficientnetb0_float.txt", None, rc=1))
    r = compile_or_predict(int8_model, tmp_path / "out")
    assert not r.compiled and r.output is None and "Model not quantized" in r.message
    assert not (tmp_path / "out" / "model_int8_edgetpu.tflite").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # the compiler's scratch folder is gone


def test_compiler_hang_is_killed(tmp_path, monkeypatch, int8_model):
    import edgenet.converters.edgetpu.compiler as comp

    _with_path(monkeypatch, _fake_compiler(tmp_path / "bin", "issue60_stdout.txt", None, sleep=30))
    monkeypatch.setattr(comp.subprocess, "run", _short_timeout(comp.subprocess.run))
    r = compile_or_predict(int8_model, tmp_path / "out", timeout_s=1)
    assert not r.compiled and "did not finish" in r.log.error


def _short_timeout(run):
    def wrapped(*a, **kw):
        kw["timeout"] = 1  # the real margin is timeout_s + 30 s; keep the test short
        return run(*a, **kw)

    return wrapped


def test_without_compiler_the_prediction_is_recorded(tmp_path, monkeypatch, int8_model):
    _with_path(monkeypatch, None)
    r = compile_or_predict(int8_model, tmp_path / "out")
    assert not r.compiled and r.source == "prediction" and r.install_hint == INSTALL_HINT
    assert "edgetpu_compiler not found on PATH" in r.message and "8/8 ops predicted" in r.message
    d = r.to_dict()
    assert d["prediction"]["all_on_edgetpu"] and d["counts"] == {"edgetpu": 8, "cpu": 0, "total": 8}
    assert "apt-get install edgetpu-compiler" in d["install_hint"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_compile_without_compiler(tmp_path, monkeypatch, int8_model):
    _with_path(monkeypatch, None)
    res = CliRunner().invoke(cli, ["edgetpu", "compile", str(int8_model), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3
    assert "not found on PATH" in res.output and "8 of 8 ops predicted" in res.output
    assert "apt-get install edgetpu-compiler" in res.output


@pytest.mark.slow
def test_convert_edgetpu_without_compiler_records_prediction(tmp_path, monkeypatch):
    """`edgenet convert --edgetpu` with no compiler: report.json carries the prediction and says so."""
    import edgenet.converters.edgetpu as et

    monkeypatch.setattr(et, "find_compiler", lambda: None)
    args = ["convert", "--model", "lite0", "--img-size", "32", "--num-classes", "3", "--int8", "--int8-io", "uint8"]
    res = CliRunner().invoke(cli, [*args, "--calib-samples", "2", "--edgetpu", "-q", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report.json").read_text())
    e = report["edgetpu"]
    assert e["compiled"] is False and e["source"] == "prediction" and e["prediction"]["all_on_edgetpu"]
    assert "edgetpu_compiler not found" in e["message"] and e["install_hint"]
    assert not (tmp_path / "model_int8_edgetpu.tflite").exists()


def test_install_hint_uses_a_keyring_not_apt_key():
    """apt-key is deprecated (and gone from current Debian/Ubuntu): the hint pins the key with signed-by."""
    assert "apt-key add" not in INSTALL_HINT and "signed-by=/usr/share/keyrings/coral-edgetpu.gpg" in INSTALL_HINT
