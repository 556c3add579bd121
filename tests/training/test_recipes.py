"""The paper's schedule, optimizer set-up and EMA, checked number by number."""

import math

import pytest
import torch
from torch import nn

from edgenet.training.ema import create_ema, ema_decay_at
from edgenet.training.recipes import (
    RECIPES,
    build_optimizer,
    build_scheduler,
    default_warmup,
    get_recipe,
    lr_factor,
    param_groups,
    scaled_lr,
)

PAPER, FT = RECIPES["paper"], RECIPES["finetune"]


def test_paper_numbers():
    assert (PAPER.lr, PAPER.lr_batch, PAPER.weight_decay, PAPER.label_smoothing) == (0.256, 4096, 1e-5, 0.1)
    assert (PAPER.decay_rate, PAPER.decay_epochs, PAPER.drop_path_rate, PAPER.bn_momentum) == (0.97, 2.4, 0.2, 0.01)
    assert PAPER.ema_decay == 0.9999 and PAPER.optimizer == "rmsprop"
    assert scaled_lr(PAPER, 4096) == pytest.approx(0.256) and scaled_lr(PAPER, 256) == pytest.approx(0.016)


def test_paper_schedule_warmup_then_097_every_2_4_epochs():
    spe, epochs = 100, 350
    w = default_warmup(PAPER, epochs)
    assert w == 5
    assert lr_factor(PAPER, 0, spe, epochs, w) == pytest.approx(1 / 500)
    assert lr_factor(PAPER, 249, spe, epochs, w) == pytest.approx(0.5)
    assert lr_factor(PAPER, 500, spe, epochs, w) == pytest.approx(0.97 ** math.floor(5 / 2.4))
    assert lr_factor(PAPER, 2400, spe, epochs, w) == pytest.approx(0.97**10)
    assert lr_factor(PAPER, 2399, spe, epochs, w) == pytest.approx(0.97**9)


def test_short_runs_cap_the_warmup_and_cosine_reaches_zero():
    assert default_warmup(PAPER, 10) == 1.0 and default_warmup(FT, 2) == pytest.approx(0.2)
    assert lr_factor(PAPER, 9, 10, 10, 1.0) == pytest.approx(1.0)
    assert lr_factor(FT, 9, 10, 10, 1.0) == pytest.approx(1.0)
    assert lr_factor(FT, 55, 10, 10, 1.0) == pytest.approx(0.5)
    assert lr_factor(FT, 100, 10, 10, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(PAPER, 0, 10, 1, 0.04) == 1.0  # a warm-up shorter than one step never overshoots


def test_optimizer_excludes_norms_and_biases_from_decay_and_starts_like_tf():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 5, 5))
    decay, no_decay = param_groups(model, 1e-5)
    assert [p.ndim for p in decay["params"]] == [4, 2] and all(p.ndim == 1 for p in no_decay["params"])
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (1e-5, 0.0)
    opt = build_optimizer(PAPER, model, 0.01)
    assert isinstance(opt, torch.optim.RMSprop)
    g = opt.param_groups[0]
    assert (g["alpha"], g["momentum"], g["eps"]) == (0.9, 0.9, pytest.approx(math.sqrt(1e-3)))
    w = model[0].weight
    assert torch.equal(opt.state[w]["square_avg"], torch.ones_like(w))
    # one step from ms = 1: the update is ~lr·g, not TF-from-zero's ~3·lr·sign(g)
    before = w.detach().clone()
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    step = (before - w.detach()).abs().max()
    assert step < 0.01 * (w.grad.abs().max() + 1e-3) * 1.1
    assert isinstance(build_optimizer(FT, model, 1e-3), torch.optim.AdamW)


def test_scheduler_steps_per_optimizer_step():
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = build_scheduler(PAPER, opt, steps_per_epoch=10, epochs=100, warmup_epochs=5)
    lrs = []
    for _ in range(60):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert (
        lrs[0] == pytest.approx(0.1 / 50) and lrs[49] == pytest.approx(0.1) and lrs[59] == pytest.approx(0.1 * 0.97**2)
    )


def test_ema_follows_tf_num_updates_and_averages_buffers():
    assert ema_decay_at(0.9999, 0) == pytest.approx(0.1) and ema_decay_at(0.9999, 10**7) == 0.9999
    model = nn.BatchNorm1d(2)
    ema = create_ema(model, 0.9999)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.running_mean.fill_(4.0)
    ema.update_parameters(model)  # first update copies
    with torch.no_grad():
        model.weight.fill_(3.0)
        model.running_mean.fill_(6.0)
        model.num_batches_tracked.fill_(7)
    ema.update_parameters(model)  # n_averaged = 1: decay = 2/11
    d = 2 / 11
    torch.testing.assert_close(ema.module.weight, torch.full((2,), d * 2 + (1 - d) * 3))
    torch.testing.assert_close(ema.module.running_mean, torch.full((2,), d * 4 + (1 - d) * 6))
    assert int(ema.module.num_batches_tracked) == 7


def test_unknown_recipe():
    from edgenet.errors import EdgenetError

    with pytest.raises(EdgenetError, match="choose from paper, finetune"):
        get_recipe("sgd")
