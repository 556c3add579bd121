"""CUDA paths: mixed precision (bfloat16, and float16 with its loss scaler), channels_last, resume, eval on the GPU.

Skipped without CUDA; run on a GPU machine with ``pytest tests/training/test_gpu.py``.
"""

import numpy as np
import pytest
import torch
from train_helpers import FAST

from edgenet.checkpoint import load_checkpoint
from edgenet.data import eval_batches
from edgenet.evaluate import evaluate_checkpoint, torch_predict
from edgenet.training import TrainConfig, train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
GPU = {**FAST, "device": "cuda", "amp": True}
# bfloat16 keeps 8 significant bits: through lite0 the logits of this 2-epoch model move by up to 6 % of their
# largest value (measured with CPU bfloat16 autocast); a wrong layout, dtype or weight moves them by ~100 %
BF16_REL = 0.15


def run(**kw):
    return train(TrainConfig(**{**GPU, **kw}), log=lambda msg: None)


def test_bf16_amp_channels_last_and_eval_on_gpu(two_classes, tmp_path):
    r = run(data=two_classes, out=tmp_path / "run", epochs=2, val_split=0.25)
    last = load_checkpoint(r.last, with_train_state=True)
    assert all(v.device.type == "cpu" for v in last.state_dict.values())  # loadable on a machine without a GPU
    assert last.train_state["scaler"] == {}  # bfloat16 needs no loss scaling
    assert torch.isfinite(torch.tensor(last.metrics["train_loss"]))
    # the GPU eval path (bfloat16 autocast, channels_last) against float32 on the CPU, logit by logit
    ckpt = load_checkpoint(r.best)
    batches, _ = eval_batches(two_classes, ckpt.preprocess, ckpt.classes, 8, 0)
    x = np.concatenate([b[0] for b in batches])
    cpu_logits = torch_predict(ckpt.build(), "cpu")(x)
    gpu_logits = torch_predict(ckpt.build().to("cuda"), "cuda", amp=True, channels_last=True)(x)
    scale = np.abs(cpu_logits).max()
    assert np.abs(gpu_logits - cpu_logits).max() <= BF16_REL * scale
    # so a prediction may flip only where float32's top two are within twice that bound of each other
    top2 = np.sort(cpu_logits, axis=1)[:, -2:]
    near_ties = int((top2[:, 1] - top2[:, 0] <= 2 * BF16_REL * scale).sum())
    gpu = evaluate_checkpoint(r.best, two_classes, batch_size=8, workers=0, device="cuda")
    cpu = evaluate_checkpoint(r.best, two_classes, batch_size=8, workers=0, device="cpu")
    assert gpu.n == cpu.n == 24
    flipped = np.abs(np.array(gpu.confusion) - np.array(cpu.confusion)).sum() / 2
    assert flipped <= near_ties


def test_fp16_loss_scaler_state_survives_a_resume(two_classes, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # as on a pre-Ampere GPU
    run(data=two_classes, out=tmp_path / "run", epochs=1, val_split=0)
    scaler = load_checkpoint(tmp_path / "run" / "last.pt", with_train_state=True).train_state["scaler"]
    assert scaler["scale"] > 0 and "_growth_tracker" in scaler
    r = run(out=tmp_path / "run", resume=True, epochs=2)
    assert r.epochs_done == 2 and torch.isfinite(torch.tensor(r.metrics["train_loss"]))
