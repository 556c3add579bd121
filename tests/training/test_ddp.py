"""Two processes on the CPU through torchrun and gloo: the real ``edgenet train`` command line, distributed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgenet.checkpoint import load_checkpoint

EDGENET = Path(sys.executable).parent / "edgenet"


@pytest.mark.slow
def test_two_processes_with_gloo(two_classes, tmp_path):
    if not EDGENET.exists():
        pytest.skip(f"{EDGENET}: console script not installed (pip install -e .)")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(EDGENET)]
    cmd += ["train", "--model", "lite0", "--img-size", "32", "--data", str(two_classes), "--val-split", "0.25"]
    cmd += [
        "--out",
        str(out),
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--device",
        "cpu",
        "-q",
        "--json",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-4000:]
    result = json.loads(p.stdout)  # only rank 0 reports
    assert result["epochs_done"] == 2 and result["steps"] == 4  # 18 images: 9 per rank, 2 steps of 4 per epoch

    assert sorted(f.name for f in out.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"]  # rank 0 alone wrote
    last = load_checkpoint(out / "last.pt", with_train_state=True)
    assert last.train_state["world_size"] == 2 and last.train_state["global_step"] == 4
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for m in lines:
        assert m["train_images"] == 16  # summed over both ranks: 2 ranks × 2 steps × 4 images
        assert m["val_images"] == 6  # every held-out image exactly once, none padded or dropped
        assert torch.isfinite(torch.tensor(m["train_loss"]))
    assert last.metrics == lines[-1]
