"""Training runs on a few generated images (real CIFAR-10 photos too where ../shared has them): learning, complete
checkpoints, exact resume, and every bad-input path."""

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from train_helpers import FAST, corrupt_copy

from edgenet.checkpoint import load_checkpoint
from edgenet.errors import EdgenetError
from edgenet.loading import load_model
from edgenet.training import TrainConfig, train

TRAIN_STATE_KEYS = {
    "config",
    "epoch",
    "step_in_epoch",
    "global_step",
    "model",
    "optimizer",
    "scheduler",
    "scaler",
    "ema_n_averaged",
    "epoch_stats",
    "best_top1",
    "history",
    "rng",
    "world_size",
}


def run(on_step=None, **kw):
    return train(TrainConfig(**{**FAST, **kw}), on_step=on_step, log=lambda msg: None)


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.shared_data("cifar10")
def test_loss_goes_down_on_real_cifar_photos(cifar_three_classes, tmp_path):
    """The real-data tier: the same run on CIFAR-10 photos instead of generated shapes."""
    test_loss_goes_down_and_the_checkpoint_is_complete(cifar_three_classes, tmp_path)


@pytest.mark.slow
def test_loss_goes_down_and_the_checkpoint_is_complete(three_classes, tmp_path):
    out = tmp_path / "run"
    easy = dict(augment="none", min_crop=1, label_smoothing=0, drop_path=0, dropout=0)  # 36 steps: no regularisation
    r = run(data=three_classes, out=out, epochs=6, batch_size=8, recipe="finetune", lr=1e-3, val_split=0.2, **easy)
    lines = metrics(out)
    assert [m["epoch"] for m in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[-1]["train_loss"] < 0.8 * lines[0]["train_loss"], [m["train_loss"] for m in lines]
    assert all(m["train_images"] == 48 and m["val_images"] == 12 for m in lines)  # 20 per class, 4 held out

    last = load_checkpoint(r.last, with_train_state=True)
    assert (last.model_name, last.classes, last.num_classes) == ("efficientnet_lite0", ["airplane", "cat", "ship"], 3)
    assert last.preprocess.resolution == 32 and last.config.drop_path_rate == 0 and last.config.dropout == 0
    assert set(last.train_state) >= TRAIN_STATE_KEYS
    ts = last.train_state
    assert (ts["epoch"], ts["step_in_epoch"], ts["global_step"]) == (6, 0, 36)
    assert ts["config"]["recipe"] == "finetune" and ts["scheduler"]["last_epoch"] == 36
    assert last.metrics == lines[-1] and ts["history"] == lines
    # deployed weights = trained weights with batch-norm statistics re-estimated on training images (--bn-recal)
    assert last.metrics["bn_recal_batches"] == 20
    for k, v in last.state_dict.items():
        same = torch.equal(v, ts["model"][k])
        assert same != k.endswith(("running_mean", "running_var", "num_batches_tracked")), k

    best = load_checkpoint(r.best, with_train_state=True)
    assert best.train_state is None  # deployable weights only
    assert best.metrics["val_top1"] == max(m["val_top1"] for m in lines) == r.best_val_top1
    loaded = load_model(checkpoint=r.best)  # what convert/bench will do
    assert loaded.classes == last.classes and loaded.preprocess == last.preprocess
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"]


# paper recipe: RMSProp, warm-up, exponential decay, EMA, RandAugment, stochastic depth. The warm-up is given
# explicitly: by default it is a tenth of the run, and a 1-epoch run would otherwise get another schedule.
PAPER = dict(epochs=2, val_split=0.25, warmup_epochs=0.5)


def _state(out: Path):
    c = load_checkpoint(out / "last.pt", with_train_state=True)
    return (
        c.state_dict,
        c.train_state,
        [{k: v for k, v in m.items() if k.startswith(("train_l", "train_t", "val"))} for m in c.train_state["history"]],
    )


def _assert_same_run(a, b):
    (sd_a, ts_a, m_a), (sd_b, ts_b, m_b) = a, b
    for k in sd_a:  # deployed (EMA) weights
        torch.testing.assert_close(sd_a[k], sd_b[k], rtol=1e-5, atol=1e-6, msg=k)
    for k in ts_a["model"]:  # raw weights
        torch.testing.assert_close(ts_a["model"][k], ts_b["model"][k], rtol=1e-5, atol=1e-6, msg=k)
    for pid, st in ts_a["optimizer"]["state"].items():
        torch.testing.assert_close(
            st["square_avg"], ts_b["optimizer"]["state"][pid]["square_avg"], rtol=1e-5, atol=1e-7
        )
    assert ts_a["scheduler"]["last_epoch"] == ts_b["scheduler"]["last_epoch"] == ts_a["global_step"]
    assert ts_a["ema_n_averaged"] == ts_b["ema_n_averaged"]
    assert len(m_a) == len(m_b)
    for x, y in zip(m_a, m_b):
        assert x == pytest.approx(y, rel=1e-5)


@pytest.mark.slow
def test_resume_continues_exactly(two_classes, tmp_path):
    a = run(data=two_classes, out=tmp_path / "a", **PAPER)
    assert a.steps == 8 and a.recipe == "paper"

    run(data=two_classes, out=tmp_path / "b", **{**PAPER, "epochs": 1})
    b = run(out=tmp_path / "b", epochs=2, resume=True)  # the run's settings come from last.pt
    assert b.steps == 8

    def ctrl_c_at_step_6(trainer):  # a real SIGINT in the middle of epoch 2
        if trainer.global_step == 6:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    c = run(data=two_classes, out=tmp_path / "c", on_step=ctrl_c_at_step_6, **PAPER)
    assert c.interrupted and c.epochs_done == 1
    ts = load_checkpoint(tmp_path / "c" / "last.pt", with_train_state=True).train_state
    assert (ts["epoch"], ts["step_in_epoch"], ts["global_step"]) == (1, 2, 6)
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is restored
    c = run(out=tmp_path / "c", resume=True, workers=2)  # augmentation does not depend on the worker count
    assert not c.interrupted and c.steps == 8

    ref = _state(tmp_path / "a")
    _assert_same_run(ref, _state(tmp_path / "b"))
    _assert_same_run(ref, _state(tmp_path / "c"))
    assert len(metrics(tmp_path / "c")) == 2


@pytest.mark.slow
def test_resume_with_another_model_class_set_or_setting(two_classes, three_classes, tmp_path):
    out = tmp_path / "run"
    run(data=two_classes, out=out, epochs=1, val_split=0)
    with pytest.raises(EdgenetError, match="already holds a run"):
        run(data=two_classes, out=out, epochs=1)
    with pytest.raises(EdgenetError, match="the run trains efficientnet_lite0, but --model b0 was given"):
        run(out=out, resume=True, epochs=2, model="b0")
    with pytest.raises(EdgenetError, match=r"differ from the run's.*resume needs the same class set"):
        run(data=three_classes, out=out, resume=True, epochs=2)
    with pytest.raises(EdgenetError, match="--batch-size 8 differs from the run's 4"):
        run(out=out, resume=True, epochs=2, batch_size=8)
    with pytest.raises(EdgenetError, match=r"no last\.pt to resume from"):
        run(data=two_classes, out=tmp_path / "empty", resume=True)


@pytest.mark.slow
def test_failed_checkpoint_write_keeps_the_previous_one(two_classes, tmp_path, monkeypatch):
    out = tmp_path / "run"
    run(data=two_classes, out=out, epochs=1, val_split=0)
    before = (out / "last.pt").read_bytes()

    def disk_full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(EdgenetError, match=r"last\.pt: could not write.*No space left.*the previous one is kept"):
        run(out=out, resume=True, epochs=2)
    monkeypatch.undo()
    assert (out / "last.pt").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["last.pt", "metrics.jsonl"]  # no temporary file left behind
    assert load_checkpoint(out / "last.pt", with_train_state=True).train_state["epoch"] == 1


@pytest.mark.slow
def test_unreadable_images_are_skipped_and_counted(two_classes, tmp_path):
    data, _ = corrupt_copy(two_classes, tmp_path / "bad")
    r = run(data=data, val=data, out=tmp_path / "run", epochs=1)  # 24 images, batch 4: every image is drawn
    assert (r.skipped_train, r.skipped_val) == (2, 2)
    m = metrics(tmp_path / "run")[0]
    assert (m["train_images"], m["skipped_train"], m["val_images"], m["skipped_val"]) == (22, 2, 22, 2)


@pytest.mark.slow
def test_finetune_a_checkpoint_to_new_classes_frozen_backbone_and_swapped_activation(
    two_classes, three_classes, tmp_path
):
    first = run(data=two_classes, out=tmp_path / "a", epochs=1, val_split=0)
    r = run(
        data=three_classes,
        out=tmp_path / "ft",
        checkpoint=first.last,
        epochs=1,
        val_split=0,
        freeze_backbone=True,
        act="hardswish",
    )
    assert r.recipe == "finetune"
    src, ft = load_checkpoint(first.last), load_checkpoint(r.last, with_train_state=True)
    assert ft.config.act == "hardswish" and ft.num_classes == 3 and ft.classes == ["airplane", "cat", "ship"]
    trained = ft.train_state["model"]
    for k, v in src.state_dict.items():
        if not k.startswith("classifier."):
            assert torch.equal(v, trained[k]), k  # frozen: weights and batch-norm statistics untouched
    assert trained["classifier.weight"].shape == (3, 1280) and trained["classifier.weight"].abs().sum() > 0


def test_divergence_is_a_clear_error(two_classes, tmp_path):
    with pytest.raises(EdgenetError, match="training diverged; lower --lr"):
        run(data=two_classes, out=tmp_path / "run", epochs=1, lr=float("inf"), val_split=0)


def test_too_few_images_for_the_batch(two_classes, tmp_path):
    with pytest.raises(EdgenetError, match="fewer than --batch-size 64"):
        run(data=two_classes, out=tmp_path / "run", batch_size=64)


def test_a_last_recalibration_batch_of_one_image_is_handled(tmp_path):
    """Issue 26.8: 10 images in batches of 3 left one image for the last batch of BN re-estimation, whose 1×1 final
    feature map gave "Expected more than 1 value per channel", a traceback and an empty run folder."""
    from helpers import shapes_folder

    data = shapes_folder(tmp_path / "data", ("airplane", "cat"), 5)
    result = run(data=data, out=tmp_path / "run", epochs=1, batch_size=3, val_split=0)
    assert result.epochs_done == 1 and (tmp_path / "run" / "last.pt").is_file()
    assert load_checkpoint(tmp_path / "run" / "last.pt").metrics["epoch"] == 1


def test_last_pt_is_saved_when_the_end_of_an_epoch_fails(two_classes, tmp_path, monkeypatch):
    """Whatever fails after an epoch's steps (re-estimation, validation) leaves last.pt to resume from."""
    from edgenet.training import loop

    def broken(self):
        raise RuntimeError("simulated failure in batch-norm re-estimation")

    monkeypatch.setattr(loop.Trainer, "_recalibrated", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        run(data=two_classes, out=tmp_path / "run", epochs=1, val_split=0)
    assert load_checkpoint(tmp_path / "run" / "last.pt", with_train_state=True).train_state["epoch"] == 0


def test_a_batch_size_of_one_is_refused_in_one_line(two_classes, tmp_path):
    """Found in the adversarial pass of issue 26: --batch-size 1 ended in BatchNorm's ValueError traceback."""
    with pytest.raises(EdgenetError, match="--batch-size 1: batch norm needs at least 2 images a step"):
        run(data=two_classes, out=tmp_path / "run", batch_size=1)
