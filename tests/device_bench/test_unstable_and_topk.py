"""bench flags unstable measurements (table, db, report) and names the k of top-k everywhere (issue 13.6)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
from click.testing import CliRunner
from edgenet.device_bench.bench import make_result
from edgenet.device_bench.db import SCHEMA_VERSION, ResultsDB
from edgenet.device_bench.modelinfo import inspect_model
from edgenet.device_bench.report import render_html, render_markdown
from edgenet.device_bench.results import BenchConfig, LatencyStats
from edgenet.device_bench.stats import is_unstable, summarize

from edgenet.cli.main import cli


def _stats(x) -> LatencyStats:
    return summarize(x)


def test_is_unstable():
    rng = np.random.default_rng(0)
    steady = list(10 + rng.normal(0, 0.3, 100))
    tail = [10.0] * 80 + [30.0] * 20  # p50 10, p90 30: another job took the CPU a fifth of the time
    wide = list(rng.uniform(5, 15, 100))  # p90/p50 1.4, but half the runs are over 25 % from the median
    torch_row = [82.0] * 85 + [2243.0] * 15  # the row the issue found stored and plotted without a word
    assert not is_unstable(steady, _stats(steady))
    assert all(is_unstable(x, _stats(x)) for x in (tail, wide, torch_row))
    assert not is_unstable([], LatencyStats(None, None, None, 55.0, 1.5, 53.0, 60.0))  # adb: a summary only


def test_an_unstable_row_is_flagged_in_the_db_and_the_report(tiny, tmp_path):
    info = inspect_model(tiny / "tflite" / "model_fp32.tflite")
    cfg = BenchConfig("tflite", threads=1, delegate="xnnpack", precision="fp32")
    raw = {"latencies_ms": [82.0] * 85 + [2243.0] * 15, "env": {"cpu_model": "busy box"}}
    noisy = make_result(info, cfg, "local", raw)
    calm = make_result(
        info,
        BenchConfig("tflite", threads=2, delegate="xnnpack", precision="fp32"),
        "local",
        raw | {"latencies_ms": [5.0, 5.1, 5.2, 5.0, 5.1]},
    )
    assert noisy.unstable and not calm.unstable and noisy.to_json()["unstable"] is True
    with ResultsDB(tmp_path / "r.sqlite") as db:
        run_id = db.start_run("test")
        db.add_result(run_id, noisy)
        db.add_result(run_id, calm)
        rows = db.rows()
    assert [r["unstable"] for r in rows] == [1, 0]
    page = render_html(rows, "r.sqlite")
    assert '<th class="">stable</th>' in page and ">no</td>" in page and ">yes</td>" in page
    assert "p90 &gt; 1.5 × p50" in page
    md = render_markdown(rows, "r.sqlite")
    assert "| stable |" in md and "| no |" in md


def test_bench_table_names_k_and_flags_instability(tiny, tmp_path, monkeypatch):
    """3 classes: the top-k column says top-3 (always 100 % there), in the table, the JSON, the db and the report."""
    db = tmp_path / "r.sqlite"
    model = tiny / "tflite" / "model_fp32.tflite"
    args = ["bench", str(model), "--db", str(db), "--eval-data", str(tiny / "eval"), "--runs", "5", "--warmup", "1"]
    import edgenet.device_bench.bench as bench

    monkeypatch.setattr(bench, "is_unstable", lambda lat, stats: True)  # an idle test machine is steady
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    header, _, row = r.stdout.splitlines()[:3]
    assert "top-k %" in header and "note" in header
    assert row.split()[-3:] == ["100.0", "(top-3)", "unstable"], row
    assert "unstable: p90 > 1.5 × p50 or MAD > 20% of p50" in r.stderr
    assert sqlite3.connect(db).execute("SELECT top5, top5_k, unstable FROM results").fetchone() == (100.0, 3, 1)
    with ResultsDB(db) as d:
        page = render_html(d.rows(), "r.sqlite")
    assert "100.0 (top-3)" in page and "top-5" not in page
    r = CliRunner().invoke(cli, ["bench", str(model), "--eval-data", str(tiny / "eval"), "--json", *args[-4:]])
    (row,) = json.loads(r.stdout)
    assert row["top5_k"] == 3 and row["top5"] == 100.0


def test_a_version_1_db_is_migrated(tmp_path):
    """Older results dbs gain top5_k (unknown: NULL) and unstable (from p90/p50) on first open."""
    path = tmp_path / "old.sqlite"
    with ResultsDB(path) as db:
        pass
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE r2 AS SELECT * FROM results; DROP TABLE results;"
        "ALTER TABLE r2 DROP COLUMN top5_k; ALTER TABLE r2 DROP COLUMN unstable; ALTER TABLE r2 DROP COLUMN "
        "delegate_ran; ALTER TABLE r2 DROP COLUMN interpreter; ALTER TABLE r2 DROP COLUMN cpu_int8;"
        "ALTER TABLE r2 DROP COLUMN emulated;"
        "ALTER TABLE r2 RENAME TO results;"
        "UPDATE meta SET value = '1' WHERE key = 'schema_version';"
    )
    con.close()
    with ResultsDB(path) as db:
        assert db.schema_version == SCHEMA_VERSION == 4
        cols = [r[1] for r in db.conn.execute("PRAGMA table_info(results)")]
    assert cols[-6:] == ["top5_k", "unstable", "delegate_ran", "interpreter", "cpu_int8", "emulated"]


def test_model_card_names_k():
    from edgenet.workflows.bundle import _recorded_accuracy

    acc = {"torch": {"top1": 0.9, "top5": 1.0, "n": 30}}
    assert "| artefact | top-1 | top-3 | images |" in _recorded_accuracy(acc, 3)
