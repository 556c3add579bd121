"""The results database: versioned schema, accumulation across runs, transactions, interrupted runs."""

import sqlite3

import pytest
from edgenet.device_bench import bench as bench_mod
from edgenet.device_bench.bench import Plan, run_benchmarks
from edgenet.device_bench.db import SCHEMA_VERSION, ResultsDB
from edgenet.device_bench.targets.local import LocalTarget

from edgenet.errors import EdgenetError

FAST = dict(warmup=1, runs=5)


def test_schema_and_accumulation(tiny, tmp_path):
    path = tmp_path / "r.sqlite"
    model = tiny / "tflite" / "model_int8.tflite"
    with ResultsDB(path) as db:
        assert db.schema_version == SCHEMA_VERSION == 3
        run_benchmarks([model], Plan(threads=(1, 2), **FAST), db=db, command="first", progress=False)
    with ResultsDB(path) as db:  # a second day, same file: rows accumulate
        run_benchmarks([model], Plan(threads=(1,), **FAST), db=db, command="second", progress=False)
        latest = db.rows()
        everything = db.rows(latest_only=False)
        runs = db.runs()
    assert len(everything) == 3 and len(latest) == 2
    by_threads = {r["threads"]: r for r in latest}
    assert by_threads[1]["repeats"] == 2 and by_threads[2]["repeats"] == 1
    assert by_threads[1]["id"] == max(r["id"] for r in everything)  # the newest row of the key
    assert {r["model_sha256"] for r in latest} == {everything[0]["model_sha256"]}
    assert [(r["status"], r["command"]) for r in runs] == [("complete", "first"), ("complete", "second")]
    row = latest[0]
    assert row["p50_ms"] > 0 and row["env"]["cpu_model"] and row["precision"] == "int8"
    raw = sqlite3.connect(path).execute("SELECT latencies_json FROM results LIMIT 1").fetchone()[0]
    assert raw.startswith("[") and raw.count(",") == 4  # 5 runs kept for re-analysis


def test_interrupted_run_keeps_finished_rows(tiny, tmp_path, monkeypatch):
    calls = []
    real = LocalTarget.run

    def run_then_interrupt(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second configuration runs
        return real(self, *a, **k)

    monkeypatch.setattr(LocalTarget, "run", run_then_interrupt)
    path = tmp_path / "r.sqlite"
    with ResultsDB(path) as db, pytest.raises(KeyboardInterrupt):
        run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(threads=(1, 2, 4), **FAST), db=db, progress=False)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT threads FROM results").fetchall() == [(1,)]
    assert con.execute("SELECT status, finished_at IS NOT NULL FROM runs").fetchall() == [("interrupted", 1)]


def test_a_failed_write_leaves_nothing(tiny, tmp_path, monkeypatch):
    """An error inside the row's transaction rolls the whole row back."""
    path = tmp_path / "r.sqlite"
    with ResultsDB(path) as db:
        (r,) = run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), progress=False)
        run_id = db.start_run("x")
        with pytest.raises(sqlite3.IntegrityError):
            db.add_result(run_id, bench_mod.replace(r, model=None))  # NOT NULL violation
        assert db.rows() == []
        db.add_result(run_id, r)
        assert len(db.rows()) == 1


def test_not_a_results_db(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(EdgenetError, match="not an SQLite database"):
        ResultsDB(text)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(EdgenetError, match="not an edgenet results database"):
        ResultsDB(other)
    with pytest.raises(EdgenetError, match="is a folder"):
        ResultsDB(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultsDB(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(EdgenetError, match="schema version 99 is newer than this edgenet"):
        ResultsDB(path)


def _open_at(path: str, start: float) -> str:
    """Open ``path`` once the common start time comes (a child process of the test below)."""
    import time

    time.sleep(max(0.0, start - time.time()))
    try:
        with ResultsDB(path) as db:
            return f"ok {db.schema_version}"
    except Exception as e:  # the failure is the test's answer, reported by value
        return f"{type(e).__name__}: {e}"


def test_processes_creating_one_new_db_at_once(tmp_path):
    """Issue 13.11: 4 processes creating one new database at once failed 19 of 80 opens ("table meta already
    exists"); the schema is now created inside one BEGIN IMMEDIATE transaction, once."""
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        pool.map(abs, range(8))  # workers started and warm before the first round
        answers = []
        for i in range(15):
            start = time.time() + 0.05
            path = str(tmp_path / f"r{i}.sqlite")
            answers += pool.starmap(_open_at, [(path, start)] * 8)
    assert answers == [f"ok {SCHEMA_VERSION}"] * 120
    with ResultsDB(tmp_path / "r0.sqlite") as db:
        assert db.conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 1


@pytest.mark.parametrize("db", ["/proc/x.sqlite", "/etc/passwd/x.sqlite"])
def test_an_unwritable_db_is_one_line(db):
    with pytest.raises(EdgenetError, match=rf"--db {db}: cannot open or create the database"):
        ResultsDB(db)
