"""``edgenet bench`` and ``edgenet report`` through click's CliRunner: output shapes, the db, bad input."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenet.cli.main import cli

sys.path.insert(0, str(Path(__file__).parents[1] / "device_bench"))
import tiny_models

FAST = ["--warmup", "1", "--runs", "5", "-q"]
JSON_KEYS = {
    "backend",
    "device",
    "target",
    "threads",
    "delegate",
    "runs",
    "latency_ms",
    "load_ms",
    "first_inference_ms",
    "peak_rss_mb",
    "model_bytes",
    "env",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_models.ensure(tmp_path_factory.getbasetemp() / "tiny_models")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_json_has_one_object_per_configuration(tiny):
    r = run("bench", tiny / "tflite" / "model_int8.tflite", "--threads", "1,2", "--json", *FAST)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out) == 2 and [o["threads"] for o in out] == [1, 2]
    for o in out:
        assert set(o) >= JSON_KEYS
        assert set(o["latency_ms"]) >= {"p50", "p90", "p99", "mean", "std", "min"}
        assert o["backend"] == "tflite" and o["target"] == "local" and o["delegate"] == "xnnpack"
        assert o["runs"] == 5 and o["precision"] == "int8" and "latencies_ms" not in o


def test_table_db_and_report(tiny, tmp_path):
    db = tmp_path / "results.sqlite"
    models = [tiny / "tflite" / "model_fp32.tflite", tiny / "tflite" / "model_int8.tflite"]
    r = run("bench", *models, "--threads", "1,2", "--db", db, "--eval-data", tiny / "eval", "--eval-limit", "6", *FAST)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert (
        lines[0].split()[:4] == ["model", "file", "prec", "backend"] and "p50 ms" in lines[0] and "top-1 %" in lines[0]
    )
    assert sum(ln.startswith("tiny_keras  model_") for ln in lines) == 4
    assert sqlite3.connect(db).execute("SELECT COUNT(*), COUNT(top1) FROM results").fetchone() == (4, 4)
    html, md = tmp_path / "report.html", tmp_path / "report.md"
    r = run("report", "--db", db, "--out", html, "--markdown", md)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout and html.read_text().count("data:image/png;base64,") == 3
    assert md.read_text().startswith("# edgenet device benchmarks")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "{tmp}/nothing.tflite"], "nothing.tflite: model file not found"),
        (["bench", "{tmp}/notes.txt"], "notes.txt: not a model edgenet can benchmark"),
        (["bench", "{tiny}/tflite/model_fp32.tflite", "--backend", "torch"], "--backend torch runs .pt files"),
        (["bench", "{tiny}/tflite/model_fp32.tflite", "--target", "ftp://x"], "use local, ssh://user@host"),
        (["bench", "{tiny}/tflite/model_fp32.tflite", "--db", "{tmp}/notes.txt"], "not an SQLite database"),
        (["bench", "{tiny}/tflite/model_fp32.tflite", "--precision", "int4"], "--precision int4: use fp32"),
        (["bench", "{tiny}/tflite/model_fp32.tflite", "--mean", "0.5,0.5"], "--mean: give three"),
        (["report", "--db", "{tmp}/none.sqlite", "--out", "{tmp}/r.html"], "none.sqlite: not found"),
    ],
)
def test_bad_input_is_one_line(tiny, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("just text\n")
    extra = FAST[:4] if args[0] == "bench" else []
    r = run(*[a.format(tmp=tmp_path, tiny=tiny) for a in args], *extra)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr
    assert "Traceback" not in r.output


def test_usage_errors(tiny):
    r = run("bench", tiny / "tflite" / "model_fp32.tflite", "--threads", "1,x")
    assert r.exit_code == 2 and "comma-separated list" in r.stderr
    r = run("bench", tiny / "tflite" / "model_fp32.tflite", "--threads", "0")
    assert r.exit_code == 2 and "≥ 1" in r.stderr


def test_runner_failure_exits_3(tiny, tmp_path):
    r = run("bench", tiny / "torch" / "model.onnx", "--batch", "4", *FAST)
    assert r.exit_code == 3 and "fixed batch of 1" in r.stderr and r.stderr.count("\n") == 1


def test_empty_db_report_is_an_error(tiny, tmp_path):
    from edgenet.device_bench.db import ResultsDB

    ResultsDB(tmp_path / "empty.sqlite").close()
    r = run("report", "--db", tmp_path / "empty.sqlite", "--out", tmp_path / "r.html")
    assert r.exit_code == 2 and "holds no results yet" in r.stderr and not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_bench_a_real_edgenet_conversion(converted_lite0_uint8, photos_dir, tmp_path):
    """The converter's own output (uint8 I/O, report.json + labels.txt): preprocessing and labels are read from
    the model's folder, inputs quantized with the tensor's scale and zero point."""
    from edgenet.imagenet import folder_aliases, imagenet_classes

    out, _, _ = converted_lite0_uint8
    images = tmp_path / "val"
    names = folder_aliases(imagenet_classes())
    for wnid in sorted(p.name for p in photos_dir.iterdir()):  # class folders named as the checkpoint's labels
        (images / names[wnid]).mkdir(parents=True)
        for src in sorted((photos_dir / wnid).glob("*.jpg"))[:2]:
            (images / names[wnid] / src.name).write_bytes(src.read_bytes())
    r = run("bench", out / "model_int8.tflite", out / "model_fp32.tflite", "--eval-data", images, "--json", *FAST)
    assert r.exit_code == 0, r.output
    int8, fp32 = json.loads(r.stdout)
    assert int8["input_dtype"] == "uint8" and int8["precision"] == "int8" and fp32["precision"] == "fp32"
    assert int8["model"] == "efficientnet_lite0" and int8["resolution"] == 64
    assert int8["eval_samples"] == fp32["eval_samples"] == 6
