"""``edgenet train`` and ``edgenet eval`` from the command line: outputs, one-line errors, SIGTERM and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers import one_line_error, shapes_folder

from edgenet.checkpoint import load_checkpoint
from edgenet.cli.main import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ["--model", "lite0", "--img-size", "32", "--batch-size", "4", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return shapes_folder(tmp_path_factory.mktemp("cli_data"), ("airplane", "cat"), 12)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_run") / "run"
    r = invoke("train", *TINY, "--data", data, "--val-split", "0.25", "--epochs", "1", "--out", out, "-q", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["epochs_done"] == 1 and result["best"] == str(out / "best.pt") and result["recipe"] == "paper"
    return out


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_help_lists_the_commands():
    r = invoke("--help")
    assert "train" in r.output and "eval" in r.output
    assert "torchrun" in invoke("train", "--help").output and "confusion.png" in invoke("eval", "--help").output


@pytest.mark.slow
def test_eval_prints_and_writes_the_report(trained, data, tmp_path):
    r = invoke("eval", "--checkpoint", trained / "best.pt", "--data", data, "--workers", "0", "--out", tmp_path / "ev")
    assert r.exit_code == 0, r.output
    assert "top-1" in r.stdout and "airplane" in r.stdout and "cat" in r.stdout
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["confusion.csv", "confusion.png", "metrics.json"]
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["n"] == 24 and saved["classes"] == ["airplane", "cat"] and sum(map(sum, saved["confusion"])) == 24

    r = invoke("eval", "--checkpoint", trained / "best.pt", "--data", data, "--workers", "0", "--json", "-q")
    assert r.exit_code == 0, r.output
    as_json = json.loads(r.stdout)
    assert as_json["confusion"] == saved["confusion"] and as_json["top1"] == saved["top1"]
    assert (trained / f"eval-{data.name}" / "confusion.csv").is_file()  # default: beside the checkpoint


@pytest.mark.slow  # its `trained` run folder takes a real training epoch
def test_bad_inputs_are_one_line_errors(trained, data, tmp_path):
    empty = tmp_path / "empty"
    shutil.copytree(data, empty)
    (empty / "dog").mkdir()
    one_line_error(invoke("train", *TINY, "--data", empty, "--out", tmp_path / "a"), "'dog'", "hold no images")

    val = tmp_path / "val"
    shutil.copytree(data, val)
    (val / "cat").rename(val / "ship")
    r = invoke("train", *TINY, "--data", data, "--val", val, "--out", tmp_path / "b")
    one_line_error(r, "class folders differ", "missing ['cat'], extra ['ship']")

    one_line_error(invoke("train", "--out", tmp_path / "none", "--resume"), "no last.pt to resume from")
    r = invoke("train", "--out", trained, "--resume", "--model", "b0", "--epochs", "2")
    one_line_error(r, "the run trains efficientnet_lite0, but --model b0 was given")
    r = invoke("train", "--out", trained, "--resume", "--data", val, "--epochs", "2")
    one_line_error(r, "resume needs the same class set")
    one_line_error(invoke("train", *TINY, "--data", data, "--out", trained), "already holds a run", "--resume")

    one_line_error(invoke("eval", "--checkpoint", tmp_path / "x.pt", "--data", data), "checkpoint not found")
    r = invoke("eval", "--checkpoint", trained / "best.pt", "--data", val, "--workers", "0")
    one_line_error(r, "['ship'] are not among the model's 2 classes")
    if not torch.cuda.is_available():
        r = invoke("train", *TINY[:-1], "cuda", "--data", data, "--out", tmp_path / "c")
        one_line_error(r, "--device cuda: no CUDA GPU")


@pytest.mark.slow
def test_sigterm_saves_and_resume_finishes_the_run(data, tmp_path):
    """A real process: SIGTERM mid-run saves last.pt and exits 143 (128 + SIGTERM; 130 before issue 26.9); --resume
    then finishes from there."""
    exe = Path(sys.executable).parent / "edgenet"
    if not exe.exists():
        pytest.skip(f"{exe}: console script not installed")
    out = tmp_path / "run"
    args = [str(exe), "train", *TINY, "--data", str(data), "--val-split", "0", "--epochs", "100", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*args, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "interrupted: continue with `edgenet train --out" in stderr and "Traceback" not in stderr
    state = load_checkpoint(out / "last.pt", with_train_state=True).train_state
    done = state["epoch"] + (state["step_in_epoch"] > 0)
    assert 1 <= state["epoch"] < 100

    r = invoke("train", "--out", out, "--resume", "--epochs", done + 1, "-q", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["epochs_done"] == done + 1
    assert len((out / "metrics.jsonl").read_text().splitlines()) == done + 1
