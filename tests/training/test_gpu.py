"""CUDA paths: mixed precision (bfloat16, and float16 with its loss scaler), channels_last, resume, eval on the GPU.

Skipped without CUDA; run on a GPU machine with ``pytest tests/training/test_gpu.py``.
"""

import numpy as np
import pytest
import torch
from conftest import FAST

from edgenet.checkpoint import load_checkpoint
from edgenet.evaluate import evaluate_checkpoint
from edgenet.training import TrainConfig, train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
GPU = {**FAST, "device": "cuda", "amp": True}


def run(**kw):
    return train(TrainConfig(**{**GPU, **kw}), log=lambda msg: None)


def test_bf16_amp_channels_last_and_eval_on_gpu(two_classes, tmp_path):
    r = run(data=two_classes, out=tmp_path / "run", epochs=2, val_split=0.25)
    last = load_checkpoint(r.last, with_train_state=True)
    assert all(v.device.type == "cpu" for v in last.state_dict.values())  # loadable on a machine without a GPU
    assert last.train_state["scaler"] == {}  # bfloat16 needs no loss scaling
    assert torch.isfinite(torch.tensor(last.metrics["train_loss"]))
    gpu = evaluate_checkpoint(r.best, two_classes, batch_size=8, workers=0, device="cuda")
    cpu = evaluate_checkpoint(r.best, two_classes, batch_size=8, workers=0, device="cpu")
    assert gpu.n == cpu.n == 24
    flipped = np.abs(np.array(gpu.confusion) - np.array(cpu.confusion)).sum() / 2
    assert flipped <= 4  # bfloat16 + channels_last against float32 on the CPU, on near-tied untrained logits


def test_fp16_loss_scaler_state_survives_a_resume(two_classes, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # as on a pre-Ampere GPU
    run(data=two_classes, out=tmp_path / "run", epochs=1, val_split=0)
    scaler = load_checkpoint(tmp_path / "run" / "last.pt", with_train_state=True).train_state["scaler"]
    assert scaler["scale"] > 0 and "_growth_tracker" in scaler
    r = run(out=tmp_path / "run", resume=True, epochs=2)
    assert r.epochs_done == 2 and torch.isfinite(torch.tensor(r.metrics["train_loss"]))
