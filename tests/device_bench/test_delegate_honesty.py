"""Delegate honesty: a bench row says which delegate actually ran and under which interpreter, and is flagged when
the requested one did not apply — parsed from output recorded on tflite-runtime 2.14 (which skips XNNPACK for int8
models), checked live on this machine's interpreter, stored in the db (schema 3) and shown in the reports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from edgenet.device_bench.bench import make_result
from edgenet.device_bench.db import ResultsDB
from edgenet.device_bench.modelinfo import inspect_model
from edgenet.device_bench.remote_runner import delegate_ran, run_tflite
from edgenet.device_bench.report import render_html, render_markdown
from edgenet.device_bench.results import BenchConfig
from edgenet.device_bench.targets import read_result

RECORDED = Path(__file__).parents[1] / "fixtures" / "runner_output"
# Recorded with: python3.11 -m venv v && v/bin/pip install "numpy<2" tflite-runtime==2.14.0, then
#   v/bin/python device_bench/remote_runner.py '{"model": ".../lite0-raw/model_int8.tflite", "threads": 1,
#   "delegate": "xnnpack", "warmup": 2, "runs": 5}'   (and the same for model_fp32.tflite), the pretrained Lite0
#   of benchmarks/raw_input_cost.py. stdout and stderr together, as over ssh.
INT8_214 = RECORDED / "tflite_runtime_2.14_lite0_int8_xnnpack.txt"
FP32_214 = RECORDED / "tflite_runtime_2.14_lite0_fp32_xnnpack.txt"


def test_delegate_ran_rules():
    assert delegate_ran("xnnpack", 1) == "xnnpack" and delegate_ran("xnnpack", 0) == "none"
    assert delegate_ran("none", 0) == "none" and delegate_ran("none", 2) == "delegated"
    assert delegate_ran("edgetpu", 1) == "edgetpu" and delegate_ran("xnnpack", None) is None


def _row_from(text: str, tiny: Path, precision_file: str):
    raw = read_result(text, "", 0, "ssh://pi@board")
    info = inspect_model(tiny / "tflite" / precision_file)
    return raw, make_result(
        info, BenchConfig("tflite", delegate="xnnpack", precision=info.precision), "ssh://pi@board", raw
    )


def test_recorded_tflite_runtime_214_int8_row_says_xnnpack_did_not_run(tiny, tmp_path):
    raw, r = _row_from(INT8_214.read_text(), tiny, "model_int8.tflite")
    assert "XNNPACK" not in INT8_214.read_text()  # 2.14 logs nothing for int8: the log line cannot be the test
    assert raw["delegate_nodes"] == 0 and raw["interpreter"] == "tflite_runtime"
    assert r.delegate == "xnnpack" and r.delegate_ran == "none" and r.delegate_missing
    assert r.interpreter == "tflite_runtime 2.14.0"
    raw, f = _row_from(FP32_214.read_text(), tiny, "model_fp32.tflite")
    assert "Created TensorFlow Lite XNNPACK delegate" in FP32_214.read_text()
    assert f.delegate_ran == "xnnpack" and not f.delegate_missing
    with ResultsDB(tmp_path / "r.sqlite") as db:
        run = db.start_run("test")
        db.add_result(run, r)
        db.add_result(run, f)
        rows = db.rows()
    assert {(x["precision"], x["delegate_ran"], x["interpreter"]) for x in rows} == {
        ("int8", "none", "tflite_runtime 2.14.0"),
        ("fp32", "xnnpack", "tflite_runtime 2.14.0"),
    }
    page, md = render_html(rows, "r.sqlite"), render_markdown(rows, "r.sqlite")
    for text in (page, md):
        assert "none (! xnnpack not applied)" in text and "1 configuration(s) asked for a delegate" in text
        assert text.count("tflite_runtime 2.14.0") >= 2


@pytest.mark.parametrize("delegate,expect", [("xnnpack", "xnnpack"), ("none", "none")])
def test_this_machines_interpreter_reports_what_ran(tiny, delegate, expect):
    """Live: ai-edge-litert installs XNNPACK kernels for the tiny int8 and fp32 models, and none without it."""
    for f in ("model_int8.tflite", "model_fp32.tflite"):
        raw = run_tflite({"model": str(tiny / "tflite" / f), "threads": 1, "delegate": delegate, "runs": 2})
        assert raw["delegate_ran"] == expect, f
        assert (raw["delegate_nodes"] > 0) == (delegate == "xnnpack")


def test_version_2_db_gains_the_columns_with_the_interpreter_it_recorded(tiny, tmp_path):
    path = tmp_path / "v2.sqlite"
    _, r = _row_from(INT8_214.read_text(), tiny, "model_int8.tflite")
    with ResultsDB(path) as db:
        db.add_result(db.start_run("old"), r)
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE r2 AS SELECT * FROM results; DROP TABLE results; ALTER TABLE r2 DROP COLUMN delegate_ran;"
        "ALTER TABLE r2 DROP COLUMN interpreter; ALTER TABLE r2 DROP COLUMN emulated;"
        "ALTER TABLE r2 DROP COLUMN cpu_int8;"
        "ALTER TABLE r2 RENAME TO results;"
        "UPDATE meta SET value = '2' WHERE key = 'schema_version';"
    )
    con.close()
    with ResultsDB(path) as db:
        (row,) = db.rows()
    assert row["delegate_ran"] is None  # an old row recorded only what was asked: unknown, never assumed
    assert row["interpreter"] == "tflite_runtime 2.14.0"  # from its options and backend_version
    assert "not recorded" in render_markdown([row], "v2.sqlite")


@pytest.mark.parametrize("xnnpack,expect", [(True, "xnnpack"), (False, "none"), (None, None)])
def test_benchmark_model_rows_use_its_xnnpack_log(tiny, xnnpack, expect):
    """Over adb the evidence is benchmark_model's log (edgenet.device_bench.benchmark_model_log); else unknown."""
    raw = {
        "ok": True, "latency_summary": {"mean": 5.0, "std": 0.1, "min": 4.9, "max": 5.2}, "runs": 50,
        "backend_version": "benchmark_model", "interpreter": "benchmark_model", "env": {"xnnpack": xnnpack},
    }  # fmt: skip
    info = inspect_model(tiny / "tflite" / "model_int8.tflite")
    r = make_result(info, BenchConfig("tflite", delegate="xnnpack", precision="int8"), "adb://X", raw)
    assert r.delegate_ran == expect and r.delegate_missing == (expect == "none")
    assert r.interpreter == "benchmark_model"
