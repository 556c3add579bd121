"""Fake quantization as TFLite quantizes (points, grid, straight-through gradient) and quantization-aware
fine-tuning: it lowers the quantized network's distillation loss, leaves the input network alone, and its
conversion is full-integer with the fine-tuned integers in the .tflite."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from edgenet.quantization.fakequant import ActivationQuant, fake_quant, points
from edgenet.quantization.qat import qat_finetune
from helpers import realistic_bn, small_b0
from torch import nn

from edgenet.errors import EdgenetError
from edgenet.loading import load_model
from edgenet.models.blocks import ConvBnAct, MBConv, SqueezeExcite

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(name: str, photos_dir, res: int = 32):
    torch.manual_seed(0)
    loaded = load_model(name, num_classes=3, img_size=res)
    realistic_bn(loaded.model, photos_dir, res, n=8)
    from edgenet.quantization.calibration import from_folder

    return loaded, np.asarray(from_folder(photos_dir, loaded.preprocess, 8).samples)


def test_fake_quant_is_tflites_grid_with_a_straight_through_gradient():
    x = torch.linspace(-1.0, 3.0, 101, requires_grad=True)
    y = fake_quant(x, -0.5, 2.0)
    step = 2.5 / 255
    zero = round(-128 - (-0.5) / step)
    q = torch.round(y.detach() / step) + zero
    assert torch.allclose((q - zero) * step, y.detach(), atol=1e-6)  # on the grid
    assert q.min() >= -128 and q.max() <= 127
    assert fake_quant(torch.tensor([0.0]), 0.3, 2.0).item() == 0.0  # zero is exact (the range widened to hold 0)
    y.sum().backward()
    inside = (x.detach() >= -0.5) & (x.detach() <= 2.0)
    assert torch.equal(x.grad, inside.float())  # gradient passes within the range, stops outside


def test_points_follow_tflites_fusion():
    """Lite (ReLU6): a conv's output is quantized only after its fused activation; B0 (SiLU): before and after."""
    lite = load_model("lite0", num_classes=3, img_size=32).model
    b0 = load_model("b0", num_classes=3, img_size=32).model
    lite_pts, b0_pts = points(lite), points(b0)
    assert not any(isinstance(p, nn.Conv2d) for p in lite_pts)
    assert sum(isinstance(p, ConvBnAct) for p in lite_pts) == sum(isinstance(m, ConvBnAct) for m in lite.modules())
    silu_convs = [m.conv for m in b0.modules() if isinstance(m, ConvBnAct) and isinstance(m.act, nn.SiLU)]
    assert silu_convs and all(any(c is p for p in b0_pts) for c in silu_convs)
    assert any(isinstance(p, SqueezeExcite) for p in b0_pts)
    assert sum(isinstance(p, MBConv) for p in lite_pts) == sum(
        m.has_skip for m in lite.modules() if isinstance(m, MBConv)
    )


def _departures(model: nn.Module, name: str, res: int, x: np.ndarray, tmp_path) -> float:
    """How far the simulation departs from float, over how far the int8 .tflite of ``model`` (its weights put on
    the grid first, so only activations differ) does; the hooks must leave ``model`` as it was."""
    from edgenet.converters.graph import export_float
    from edgenet.converters.kinds import BuildContext
    from edgenet.converters.pipeline import build_artifact
    from edgenet.quantization.recipe import Int8Recipe
    from edgenet.quantization.rounding import round_weights

    from edgenet.artifacts.runtime import runner_for

    on_grid, _ = round_weights(model, x, "nearest", bias_correction=False)
    graph = export_float(on_grid, name, res, tmp_path, x[:2])
    path = tmp_path / "int8.tflite"
    path.write_bytes(build_artifact("int8", BuildContext(graph, x, Int8Recipe(io_dtype="float32")))[0])
    int8 = runner_for(path)(x)
    aq = ActivationQuant(on_grid).observe(x)
    with torch.no_grad():
        fp = on_grid(torch.from_numpy(x)).numpy()
        with aq.on():
            sim = on_grid(torch.from_numpy(x)).numpy()
        assert np.array_equal(on_grid(torch.from_numpy(x)).numpy(), fp), "hooks removed on exit"
    assert all(m.inplace for m in on_grid.modules() if isinstance(m, nn.SiLU)), "SiLU restored on exit"
    return float(np.abs(sim - fp).mean() / np.abs(int8 - fp).mean())


@pytest.mark.slow
def test_the_simulation_predicts_tflites_int8_model(tmp_path, photos_dir):
    """The fake-quantized Lite0 departs from the float one as far as the int8 .tflite does (a missing point, or a
    wrong grid, changes that by far more than 2×). Not output for output: one-step differences of requantization
    rounding, compounded over 16 blocks, are int8 noise too."""
    loaded, x = _net("lite0", photos_dir, 64)
    ratio = _departures(loaded.model, "lite0", 64, x, tmp_path)
    assert 0.5 < ratio < 2, ratio


def test_the_simulation_predicts_a_silu_b0s_int8_model(tmp_path, photos_dir):
    """B0: TFLite runs SiLU as x · LOGISTIC(x) and the squeeze-excite gate as a LOGISTIC, each LOGISTIC's output on
    a fixed 1/256 grid; the simulation quantizes both, and departs from float as far as the int8 .tflite does."""
    from edgenet.quantization.calibration import from_folder
    from edgenet.quantization.fakequant import _logistic

    q = _logistic(torch.linspace(-12, 12, 1001)) * 256
    assert torch.equal(q, q.round()) and q.min() == 0 and q.max() == 255
    loaded = small_b0(tmp_path, photos_dir)
    x = np.asarray(from_folder(photos_dir, loaded.preprocess, 8).samples)
    ratio = _departures(loaded.model, "b0", 32, x, tmp_path)
    assert 0.5 < ratio < 2, ratio


def test_ranges_follow_the_conversions_calibration_method(photos_dir):
    """QAT trains at the ranges the converter will use: percentile clips inside min/max (some point strictly), the
    network's input and logits keep min/max as the converter keeps them, and a bad spec fails as --calibration."""
    loaded, x = _net("b0", photos_dir)
    minmax = ActivationQuant(loaded.model).observe(x).ranges
    pct = ActivationQuant(loaded.model).observe(x, calibration="percentile:99").ranges
    logits = id(loaded.model.classifier)
    assert pct[-1] == minmax[-1] and pct[logits] == minmax[logits]
    assert all(minmax[k][0] - 1e-6 <= pct[k][0] and pct[k][1] <= minmax[k][1] + 1e-6 for k in minmax)
    assert any(pct[k][1] < 0.9 * minmax[k][1] for k in minmax)
    with pytest.raises(EdgenetError, match="percentile"):
        ActivationQuant(loaded.model).observe(x, calibration="percentile:12")


def test_qat_lowers_the_quantized_loss_and_leaves_the_model(photos_dir):
    loaded, x = _net("lite0", photos_dir)
    before = copy.deepcopy(loaded.model.state_dict())
    model, run = qat_finetune(loaded.model, x, epochs=4, lr=1e-3, batch_size=8)
    assert run.steps == 8 and run.loss_last < run.loss_first, run
    assert all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(EdgenetError, match="--qat-epochs 0"):
        qat_finetune(loaded.model, x, epochs=0)
    with pytest.raises(EdgenetError, match="2 or more calibration images"):
        qat_finetune(loaded.model, x[:1], epochs=1)


@pytest.mark.slow
def test_convert_with_qat_is_full_integer_and_exact(tmp_path, photos_dir):
    from edgenet.converters.pipeline import ConvertOptions, convert

    loaded = small_b0(tmp_path, photos_dir)
    report = convert(
        loaded,
        ConvertOptions(
            out=tmp_path / "o", calib_data=photos_dir, calib_samples=8, parity_samples=2, int8=True, qat_epochs=1,
            accept_low_fidelity=True,
        ),
    )  # fmt: skip
    assert report.qat["epochs"] == 1 and report.recipe["qat_epochs"] == 1
    n = report.weight_rounding["layers"]
    assert report.weight_rounding["int8_exact_layers"] == [n, n]
    assert next(a for a in report.artifacts if a.name == "int8").full_integer
    assert [s.stage for s in report.stages][:3] == ["inputs", "quantization-aware fine-tuning", "weight rounding"]
