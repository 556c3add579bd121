"""Weight rounding before export (AdaRound, bias correction): the int8 ``.tflite`` holds exactly the integers chosen
in PyTorch, on the real pretrained Lite0 (whose BN-folded dead channels exercise TFLite's bias rule) with raw uint8
input, and on a B0 (SiLU, squeeze-excite convs with biases); AdaRound lowers the error it minimises; bias
correction removes the mean shift; bad options fail in one line."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from edgenet.converters.pipeline import ConvertOptions, convert
from edgenet.quantization.rounding import (
    BIAS_MAX,
    fold_batchnorm,
    grid_step,
    integers,
    round_weights,
    tflite_matches,
)
from helpers import realistic_bn, small_b0
from torch import nn

from edgenet.errors import EdgenetError
from edgenet.loading import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # a busy 2-core box: two OpenMP threads spin-wait


def _samples(photos_dir, pre, n: int = 8) -> np.ndarray:
    from edgenet.quantization.calibration import from_folder

    return np.asarray(from_folder(photos_dir, pre, n).samples)


def test_fold_batchnorm_keeps_the_outputs(photos_dir):
    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=3, img_size=32)
    realistic_bn(loaded.model, photos_dir, 32, n=8)
    x = torch.from_numpy(_samples(photos_dir, loaded.preprocess, 4))
    import copy

    folded = fold_batchnorm(copy.deepcopy(loaded.model).eval())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        ref = loaded.model.eval()(x)
        assert (folded(x) - ref).abs().max() <= 1e-3 * ref.abs().max()  # float rounding through 16 blocks


@pytest.mark.slow
@pytest.mark.parametrize("rounding", ["adaround", "nearest"])
def test_int8_tflite_holds_the_rounded_integers(tmp_path, photos_dir, rounding):
    """The real Lite0, raw uint8 input (the Edge TPU path): every layer's int8 weights in the .tflite are the
    rounding's integers, bit for bit, and AdaRound's differ from nearest's (else the test proves nothing)."""
    loaded = load_model("lite0", pretrained=True, img_size=64)
    opts = dict(calib_data=photos_dir, calib_samples=8, parity_samples=4, int8=True, int8_io="uint8")
    opts |= dict(weight_rounding=rounding, bias_correction=True, adaround_iterations=40)
    report = convert(loaded, ConvertOptions(out=tmp_path / "out", **opts))
    wr = report.weight_rounding
    assert wr["int8_exact_layers"] == [50, 50], wr["int8_exact_layers"]
    assert wr["zeroed_channels"] > 0, "the pretrained Lite0's dead channels: TFLite's bias rule must be met"
    assert report.recipe["weight_rounding"] == rounding and report.recipe["bias_correction"] is True
    assert any(s.stage == "weight rounding" for s in report.stages)
    assert not [w for w in report.warnings if "re-rounded" in w]
    flipped = np.mean([layer["flipped"] for layer in wr["per_layer"]])
    assert (flipped > 0.01) if rounding == "adaround" else flipped == 0


@pytest.mark.slow
def test_b0_silu_squeeze_excite_exact(tmp_path, photos_dir):
    """B0's squeeze-excite convs (with biases) and SiLU convs: AdaRound's integers in the .tflite too."""
    loaded = small_b0(tmp_path, photos_dir)
    opts = ConvertOptions(
        out=tmp_path / "out", calib_data=photos_dir, calib_samples=8, parity_samples=2, int8=True,
        weight_rounding="adaround", adaround_iterations=20, bias_correction=True, accept_low_fidelity=True,
    )  # fmt: skip
    wr = convert(loaded, opts).weight_rounding
    n = len([m for m in loaded.model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert wr["int8_exact_layers"] == [n, n]


def test_adaround_lowers_the_layer_error_and_keeps_each_channels_step(photos_dir):
    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=3, img_size=32)
    realistic_bn(loaded.model, photos_dir, 32, n=8)
    x = _samples(photos_dir, loaded.preprocess)
    model, done = round_weights(loaded.model, x, "adaround", bias_correction=False, iterations=60)
    assert done.mean_error < done.mean_error_nearest
    assert sum(layer.error < layer.error_nearest for layer in done.per_layer) > 0.8 * done.layers
    for name, q in integers(model).items():
        w = model.get_submodule(name).weight.detach()
        flat = q.reshape(q.shape[0], -1).astype(np.int32)
        assert np.abs(flat).max() <= 127
        live = np.abs(flat).max(1) > 0
        assert (np.abs(flat[live]).max(1) == 127).all(), f"{name}: a channel lost its ±127 (TFLite would rescale)"
        # the float weights are exactly integer × step
        assert torch.equal(w, torch.from_numpy(q).to(w.dtype) * grid_step(w).reshape(-1, *[1] * (w.ndim - 1)))
    assert loaded.model.stem.bn is not None and isinstance(loaded.model.stem.bn, nn.BatchNorm2d), "input untouched"


def test_bias_correction_removes_the_mean_shift(photos_dir):
    """Float inputs: the rounded network's mean logits are the float network's. Quantized activations (the
    default): the mean shift of the network run as int8 (simulated) shrinks, since that is what was corrected."""
    import copy

    from edgenet.quantization.fakequant import ActivationQuant

    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=3, img_size=32)
    realistic_bn(loaded.model, photos_dir, 32)
    x = torch.from_numpy(_samples(photos_dir, loaded.preprocess))
    with torch.no_grad():
        ref = loaded.model.eval()(x).mean(0)
    aq = ActivationQuant(fold_batchnorm(copy.deepcopy(loaded.model)).eval()).observe(x.numpy())

    def shift(bc: bool, activations: bool) -> float:
        model, _ = round_weights(loaded.model, x.numpy(), "nearest", bias_correction=bc, activations=activations)
        with torch.no_grad(), aq.on(model) if activations else contextlib.nullcontext():
            return float((model(x).mean(0) - ref).abs().max())

    assert shift(True, False) < 1e-3 < shift(False, False)
    assert shift(True, True) < 0.5 * shift(False, True)


def test_a_dead_channel_is_zeroed_as_tflite_would_scale_it():
    """A channel whose weights are ~0 next to its bias: TFLite widens its step for the int32 bias; zero instead."""
    net = nn.Sequential(nn.Conv2d(3, 4, 1))
    with torch.no_grad():
        net[0].weight.normal_()
        net[0].weight[0] = 1e-9
        net[0].bias.copy_(torch.tensor([5.0, 0.1, 0.1, 0.1]))
    x = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype(np.float32)
    model, done = round_weights(net, x, "nearest", bias_correction=False)
    q = integers(model)["0"]
    assert done.zeroed_channels == 1 and (q[0] == 0).all() and (q[1:] != 0).any()
    assert BIAS_MAX < 5.0 / (1e-9 / 127 * 4 / 255)  # the case is one TFLite's rule catches


def test_a_channel_too_weak_to_matter_is_zeroed_below_the_bias_rule():
    """Lite2's stages.3.0 depthwise has a channel (one weight 4e-7, bias 0.014) 6× under the rule's threshold that
    TFLite's converter still widened: a channel whose weights move its output by < 0.1 % of its bias is written
    as zeros (its answer either way), one that matters is not."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 3, 1))
    with torch.no_grad():
        net[0].weight.normal_()
        net[0].weight[0] = torch.tensor([4e-7, 0.0, 0.0]).reshape(3, 1, 1)
        net[0].bias.copy_(torch.tensor([0.014, 0.014, 0.014]))
    x = np.random.default_rng(0).uniform(0, 6, size=(4, 3, 8, 8)).astype(np.float32)  # a ReLU6 output
    ratio = 0.014 / (6 / 255 * 4e-7 / 127)
    assert ratio < BIAS_MAX / 2  # below the bias rule: only the dead-channel rule can zero it
    model, done = round_weights(net, x, "nearest", bias_correction=False)
    q = integers(model)["0"]
    assert done.zeroed_channels == 1 and (q[0] == 0).all() and (q[1:] != 0).any(axis=(1, 2, 3)).all()


def test_bad_options_fail_in_one_line(tmp_path, photos_dir):
    loaded = load_model("lite0", num_classes=3, img_size=32)
    with pytest.raises(EdgenetError, match="add --int8"):
        convert(loaded, ConvertOptions(out=tmp_path / "a", weight_rounding="adaround"))
    with pytest.raises(EdgenetError, match="--weight-rounding banker"):
        round_weights(loaded.model, np.zeros((1, 3, 32, 32), np.float32), "banker")
    with pytest.raises(EdgenetError, match="calibration images"):
        round_weights(loaded.model, np.zeros((0, 3, 32, 32), np.float32))
    assert not (tmp_path / "a").exists()


def test_cli_flags(tmp_path, photos_dir):
    from click.testing import CliRunner

    from edgenet.cli.main import cli

    args = ["convert", "--model", "lite0", "--img-size", "32", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(cli, [*args, "--weight-rounding", "adaround"])
    assert r.exit_code != 0 and "add --int8" in r.output
    r = CliRunner().invoke(cli, [*args, "--int8", "--adaround-iterations", "0"])
    assert r.exit_code != 0 and "--adaround-iterations" in r.output
    r = CliRunner().invoke(cli, [*args, "--weight-rounding", "stochastic"])
    assert r.exit_code != 0 and "stochastic" in r.output


def test_tflite_matches_counts_a_layer_the_quantizer_moved(tmp_path, photos_dir):
    """The check itself can fail: one integer changed in the model's copy is one layer not matched."""
    from edgenet.converters.graph import export_float
    from edgenet.converters.kinds import BuildContext
    from edgenet.converters.pipeline import build_artifact

    torch.manual_seed(0)
    loaded = load_model("lite0", num_classes=3, img_size=32)
    realistic_bn(loaded.model, photos_dir, 32, n=8)
    x = _samples(photos_dir, loaded.preprocess)
    model, _ = round_weights(loaded.model, x, "nearest", bias_correction=False)
    graph = export_float(model, "lite0", 32, tmp_path, x[:2])
    path = tmp_path / "int8.tflite"
    path.write_bytes(build_artifact("int8", BuildContext(graph, x))[0])
    n = len(integers(model))
    assert tflite_matches(model, path) == (n, n)
    with torch.no_grad():
        w = model.classifier.weight
        w[0, 0] = w[0, 0] + grid_step(w)[0] * (1 if w[0, 0] < 0 else -1)
    assert tflite_matches(model, path) == (n - 1, n)
