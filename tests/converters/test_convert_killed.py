"""``edgenet convert`` killed with SIGKILL while staging and while publishing: --out is the old set or the new one.

Each run is a real ``edgenet convert`` subprocess (lite0 at 32 px, a few seconds each) started through
``kill_at.py``, which SIGKILLs it at a named point. After every kill, --out must hold exactly the complete old set
or exactly a complete new set (every file report.json lists, at its recorded size, and no artefact report.json does
not list), the user's own files must be untouched, and the next run into the same --out must leave nothing else
beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from edgenet.converters.pipeline import owned_files

from edgenet.atomic import _host

pytestmark = pytest.mark.slow

KILL_AT = Path(__file__).with_name("kill_at.py")
TINY = ["--model", "lite0", "--img-size", "32", "-q"]


def convert(out: Path, *args: str, point: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(KILL_AT), point] if point else [sys.executable, "-m", "edgenet"]
    cmd += ["convert", *TINY, *args, "--out", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def users(files: dict[str, str]) -> dict[str, str]:
    return {name: digest for name, digest in files.items() if name not in owned_files()}


def assert_complete_set(out: Path, num_classes: int) -> None:
    """--out is one run's whole set: what report.json lists, at the recorded sizes, and no other artefact."""
    report = json.loads((out / "report.json").read_text())
    assert report["num_classes"] == num_classes
    listed = {"report.json", "model.onnx", *(a["file"] for a in report["artifacts"])}
    assert {p.name for p in out.iterdir()} & owned_files() == listed
    for a in report["artifacts"]:
        assert (out / a["file"]).stat().st_size == a["bytes"]
    assert (out / "model.onnx").stat().st_size == report["onnx"]["bytes"]
    logits = onnx.load(str(out / "model.onnx"), load_external_data=False).graph.output[0]
    assert logits.type.tensor_type.shape.dim[-1].dim_value == num_classes


def test_sigkill_while_staging_and_while_publishing(tmp_path):
    out = tmp_path / "out"
    r = convert(out, "--num-classes", "3", "--fp16")  # the old set: fp32 + fp16
    assert r.returncode == 0, r.stderr
    (out / "notes.txt").write_text("the user's own file")
    (out / "mine").mkdir()
    (out / "mine" / "data.bin").write_bytes(os.urandom(1000))
    old = snapshot(out)
    assert_complete_set(out, 3)

    def leftovers() -> list[str]:
        return sorted(n for n in os.listdir(tmp_path) if n != "out")

    # killed while staging: the old set untouched; the dead run's folder is recognisable as its (host, pid)
    r = convert(out, "--num-classes", "4", point="staging")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert snapshot(out) == old
    (staged,) = leftovers()
    assert staged.startswith(f".out.{_host()}.") and staged.endswith(".partial")
    assert (tmp_path / staged / "model.onnx").exists()

    # killed while publishing, before the swap (one user file linked into the new set): still the old set;
    # this run removed the first one's leftover before starting
    r = convert(out, "--num-classes", "4", point="carrying")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert snapshot(out) == old
    assert len(leftovers()) == 1 and leftovers() != [staged]

    # killed while publishing, right after the swap: the complete new set (fp16 gone), the user's files carried
    r = convert(out, "--num-classes", "4", point="swapped")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert_complete_set(out, 4)
    assert "model_fp16.tflite" not in os.listdir(out)
    new = snapshot(out)
    assert users(new) == users(old) and users(old).keys() == {"notes.txt", "mine/data.bin"}
    assert len(leftovers()) == 1  # the old set, at the staging folder's name, not yet removed

    # the next run finishes cleanly and leaves nothing beside --out
    r = convert(out, "--num-classes", "5")
    assert r.returncode == 0, r.stderr
    assert_complete_set(out, 5)
    assert leftovers() == []
    assert (out / "notes.txt").read_text() == "the user's own file"
