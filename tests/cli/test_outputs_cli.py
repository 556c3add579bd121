"""An output that is an input, or that cannot be written, is refused in one line before any work (issue 13.2, 13.8).

Before: ``report --markdown`` equal to ``--db`` overwrote the database, ``import-weights --out`` equal to
``--weights`` overwrote the source, ``eval --out data/cat`` wrote confusion.png among the images, and unwritable
outputs (a path under a file, /proc, a folder where a file belongs) ended in tracebacks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from edgenet.device_bench.db import ResultsDB
from helpers import tiny_checkpoint
from PIL import Image

from edgenet.cli.main import cli


def _fails(args: list[str], *phrases: str) -> str:
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output, r.output
    (line,) = [x for x in r.output.splitlines() if x.startswith("error:")]
    assert all(p in line for p in phrases), line
    return line


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "r.sqlite"
    ResultsDB(path).conn.close()
    return path


def test_report_never_writes_over_its_db(db, tmp_path):
    before = db.read_bytes()
    _fails(["report", "--db", str(db), "--out", str(tmp_path / "r.html"), "--markdown", str(db)], "--markdown", "--db")
    _fails(["report", "--db", str(db), "--out", str(db)], "is also --db")
    os.link(db, tmp_path / "same.sqlite")  # the same file under another name
    _fails(["report", "--db", str(db), "--out", str(tmp_path / "same.sqlite")], "is also --db")
    _fails(["report", "--db", str(db), "--out", str(tmp_path / "r.md"), "--markdown", str(tmp_path / "r.md")])
    assert db.read_bytes() == before and not (tmp_path / "r.html").exists()


def test_import_weights_never_writes_over_its_source(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"the user's only copy")
    _fails(["import-weights", "--model", "b0", "--weights", str(weights), "--out", str(weights)], "is also --weights")
    assert weights.read_bytes() == b"the user's only copy"


def test_eval_never_writes_into_its_data(tmp_path):
    data = tmp_path / "data"
    for c in ("cat", "dog"):
        (data / c).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(data / c / "0.png")
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"])
    for out in (data / "cat", data, data / "new"):
        _fails(["eval", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(out)], "is inside --data")
    assert sorted(p.name for p in data.rglob("*")) == ["0.png", "0.png", "cat", "dog"]


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["train", "--model", "b0", "--data", "DATA", "--out", "/etc/passwd/x"], "--out /etc/passwd/x: cannot create"),
        (["import-weights", "--pretrained", "lite0", "--out", "/proc/x.pt"], "--out /proc/x.pt: cannot write here"),
        (["report", "--db", "DB", "--out", "TMP"], "is a folder, not a file"),
        (["report", "--db", "DB", "--out", "/proc/r.html"], "--out /proc/r.html: cannot write here"),
        (["report", "--db", "DB", "--out", "TMP/r.html", "--markdown", "/etc/passwd/r.md"], "--markdown"),
        (["bench", "CKPT", "--db", "/proc/x.sqlite"], "--db /proc/x.sqlite: cannot open or create the database"),
    ],
)
def test_unwritable_outputs_are_one_line(args, phrase, tmp_path, db):
    data = tmp_path / "data"
    for c in ("cat", "dog"):
        (data / c).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(data / c / "0.png")
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"]) if "CKPT" in args else None
    subst = {"DATA": str(data), "DB": str(db), "TMP": str(tmp_path), "CKPT": str(ckpt)}
    args = [subst.get(a, a.replace("TMP", str(tmp_path))) for a in args]
    _fails(args, phrase)
    assert not (tmp_path / "r.html").exists()
