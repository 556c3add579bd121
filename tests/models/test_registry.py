"""Every registered variant against its peer library and the paper; options; lookups.

Peers and edgenet models are built on the ``meta`` device (no memory, no arithmetic), so even B7 costs nothing.
"""

import pytest
import timm
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from edgenet.errors import EdgenetError
from edgenet.loading import load_model
from edgenet.models import create_model, get_variant, list_models
from edgenet.models.blocks import Conv2dSame
from edgenet.profile import count_macs, count_params, profile_variant

# name -> (peer library, peer model, parameters at 1000 classes as the issue states them)
PEERS = {
    "efficientnet_b0": ("torchvision", "efficientnet_b0", 5_288_548),
    "efficientnet_b1": ("torchvision", "efficientnet_b1", 7_794_184),
    "efficientnet_b2": ("torchvision", "efficientnet_b2", 9_109_994),
    "efficientnet_b3": ("torchvision", "efficientnet_b3", 12_233_232),
    "efficientnet_b4": ("torchvision", "efficientnet_b4", 19_341_616),
    "efficientnet_b5": ("torchvision", "efficientnet_b5", 30_389_784),
    "efficientnet_b6": ("torchvision", "efficientnet_b6", 43_040_704),
    "efficientnet_b7": ("torchvision", "efficientnet_b7", 66_347_960),
    "efficientnet_b8": ("timm", "tf_efficientnet_b8", 87_413_142),
    "efficientnet_lite0": ("timm", "tf_efficientnet_lite0", 4_652_008),
    "efficientnet_lite1": ("timm", "tf_efficientnet_lite1", 5_416_680),
    "efficientnet_lite2": ("timm", "tf_efficientnet_lite2", 6_092_072),
    "efficientnet_lite3": ("timm", "tf_efficientnet_lite3", 8_197_096),
    "efficientnet_lite4": ("timm", "tf_efficientnet_lite4", 13_006_568),
    "efficientnet_edgetpu_s": ("timm", "tf_efficientnet_es", 5_438_392),
    "efficientnet_edgetpu_m": ("timm", "tf_efficientnet_em", 6_899_496),
    "efficientnet_edgetpu_l": ("timm", "tf_efficientnet_el", 10_589_712),
}
# The paper's table 2 (FLOPs there are multiply-adds), in billions.
PAPER_GMACS = {f"efficientnet_b{i}": g for i, g in enumerate([0.39, 0.70, 1.0, 1.8, 4.2, 9.9, 19, 37])}


# the smallest of each family, in the fast tier; every other variant runs with the slow tests (0.3–0.6 s each)
FAST_TIER = {"efficientnet_b0", "efficientnet_lite0", "efficientnet_edgetpu_s"}


def tiered(names: list[str]) -> list:
    return [n if n in FAST_TIER else pytest.param(n, marks=pytest.mark.slow) for n in names]


def peer_on_meta(name: str) -> nn.Module:
    lib, peer, _ = PEERS[name]
    with torch.device("meta"):
        return torchvision.models.get_model(peer) if lib == "torchvision" else timm.create_model(peer)


@pytest.mark.parametrize("name", tiered(list_models()))
def test_params_equal_issue_and_peer(name):
    assert name in PEERS, f"{name} is registered but has no peer/published count here: add one"
    with torch.device("meta"):
        ours = count_params(create_model(name))
    assert ours == PEERS[name][2]
    assert ours == count_params(peer_on_meta(name))


@pytest.mark.parametrize("name", tiered(list(PAPER_GMACS)))
def test_macs_within_5_percent_of_paper(name):
    prof = profile_variant(name)
    assert prof.resolution == get_variant(name).resolution
    assert prof.macs / 1e9 == pytest.approx(PAPER_GMACS[name], rel=0.05)


def test_counter_lands_within_5_percent_for_torchvision():
    """The counter itself is trustworthy: on torchvision's own B0 it lands within 5 % of the paper."""
    assert count_macs(peer_on_meta("efficientnet_b0"), 224) / 1e9 == pytest.approx(
        PAPER_GMACS["efficientnet_b0"], rel=0.05
    )


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_lite0", "efficientnet_edgetpu_s"])
def test_macs_equal_peer_graph(name):
    """Each family's graph is the peer's: the same counter gives the same MACs on both (Lite/EdgeTPU have no
    paper row to compare with, so the peer is their reference)."""
    res = get_variant(name).resolution
    assert profile_variant(name).macs == count_macs(peer_on_meta(name), res)


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("b0", "efficientnet_b0"),
        ("b7", "efficientnet_b7"),
        ("lite3", "efficientnet_lite3"),
        ("edgetpu_m", "efficientnet_edgetpu_m"),
        ("edgetpu-l", "efficientnet_edgetpu_l"),
        (" EfficientNet_B2 ", "efficientnet_b2"),
    ],
)
def test_aliases(alias, canonical):
    assert get_variant(alias).name == canonical
    assert get_variant(alias) is get_variant(canonical)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(EdgenetError) as e:
        get_variant("efficientnet_b9")
    msg = str(e.value)
    assert "'efficientnet_b9'" in msg and "Did you mean" in msg
    assert all(n in msg for n in list_models())
    assert "\n" not in msg and e.value.exit_code == 2


def test_phi_variant():
    v = get_variant("phi:1.5")
    assert v.name == "phi:1.5"
    assert v.depth_mult == pytest.approx(1.2**1.5, abs=1e-6)
    assert v.width_mult == pytest.approx(1.1**1.5, abs=1e-6)
    assert v.resolution == 280
    assert v.dropout == get_variant("b2").dropout  # nearest registered width (1.1 vs 1.154)
    with torch.device("meta"):
        phi0, b0 = count_params(create_model("phi:0")), count_params(create_model("b0"))
        phi15 = count_params(create_model("phi:1.5"))
    assert phi0 == b0 < phi15


@pytest.mark.parametrize("bad", ["phi:-1", "phi:abc", "phi:", "phi:inf"])
def test_bad_phi_name(bad):
    with pytest.raises(EdgenetError, match="phi"):
        get_variant(bad)


@pytest.mark.parametrize("name, size", [("b0", 64), ("lite0", 32), ("edgetpu_s", 64), ("phi:0.5", 48)])
@pytest.mark.slow
def test_forward_shape_per_family(name, size):
    torch.manual_seed(0)
    m = create_model(name, num_classes=10).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    with torch.no_grad():
        assert torch.equal(m(x), y)  # eval mode is deterministic (dropout, drop-path off)


@pytest.mark.slow
def test_backward_reaches_the_stem():
    m = create_model("lite0", num_classes=3).train()
    F.cross_entropy(m(torch.randn(2, 3, 32, 32)), torch.tensor([0, 2])).backward()
    assert m.stem.conv.weight.grad is not None and m.stem.conv.weight.grad.abs().sum() > 0


def test_overrides():
    with torch.device("meta"):
        m = create_model("b4", num_classes=7, dropout=0.0, act="hardswish")
    assert m.classifier.out_features == 7 and m.config.num_classes == 7
    assert m.dropout.p == 0.0 and get_variant("b4").dropout == 0.4
    kinds = {type(mod) for mod in m.modules()}
    assert nn.Hardswish in kinds and nn.SiLU not in kinds
    m.reset_classifier(5)
    assert m.classifier.out_features == 5 and m.config.num_classes == 5
    with pytest.raises(TypeError, match="bogus"):
        create_model("b0", bogus=1)
    with pytest.raises(ValueError, match="unknown activation"):
        create_model("b0", act="gelu-ish")


def test_lite_and_edgetpu_activations():
    with torch.device("meta"):
        lite, edge = create_model("lite0"), create_model("edgetpu_s")
    for m, act in ((lite, nn.ReLU6), (edge, nn.ReLU)):
        kinds = {type(mod) for mod in m.modules()}
        assert act in kinds and nn.SiLU not in kinds
        assert all(b.se is None for s in m.stages for b in s)  # no squeeze-excite
    assert lite.stem.conv.out_channels == 32 and lite.head.conv.out_channels == 1280


def test_drop_path_rate_grows_linearly_with_depth():
    with torch.device("meta"):
        m, plain = create_model("b0", drop_path_rate=0.2), create_model("b0")
    blocks = [b for s in m.stages for b in s]
    rates = [b.drop_path.p if b.drop_path is not None else 0.0 for b in blocks]
    # block i of n gets 0.2·i/n; blocks without a residual (stride 2 or channel change) have nothing to drop
    for i, (b, r) in enumerate(zip(blocks, rates)):
        assert r == pytest.approx(0.2 * i / len(blocks) if b.has_skip else 0.0)
    assert 0.15 < max(rates) < 0.2
    assert all(b.drop_path is None for s in plain.stages for b in s)


def test_img_size_override():
    loaded = load_model(model="lite0", img_size=128)
    assert loaded.preprocess.resolution == 128 and loaded.weights == "random"
    with pytest.raises(EdgenetError, match="at least 32"):
        load_model(model="lite0", img_size=16)


def test_same_padding_is_tensorflow_style():
    """TF "SAME" with stride 2 on an even input pads 0 before and 1 after; PyTorch pads 1 on both sides."""
    torch.manual_seed(0)
    tf_style = create_model("b0", same_padding=True).eval()
    torch_style = create_model("b0").eval()
    assert isinstance(tf_style.stem.conv, Conv2dSame) and not isinstance(torch_style.stem.conv, Conv2dSame)
    assert not isinstance(tf_style.stages[0][0].depthwise.conv, Conv2dSame)  # stride 1: both pad alike
    w = tf_style.stem.conv.weight
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = tf_style.stem.conv(x)
        assert torch.allclose(ours, F.conv2d(F.pad(x, (0, 1, 0, 1)), w, stride=2), atol=1e-6)
        assert not torch.allclose(ours, F.conv2d(x, w, stride=2, padding=1), atol=1e-3)
        # odd input: TF's padding is symmetric here, so both agree
        x = torch.randn(1, 3, 65, 65)
        assert torch.allclose(tf_style.stem.conv(x), F.conv2d(x, w, stride=2, padding=1), atol=1e-6)
        # k5 s2 depthwise on an even input: TF pads (1, 2)
        dw = next(b.depthwise.conv for s in tf_style.stages for b in s if b.depthwise.conv.kernel_size == (5, 5))
        assert isinstance(dw, Conv2dSame) and dw.stride == (2, 2)
        dw_in = torch.randn(1, dw.in_channels, 16, 16)
        ref = F.conv2d(F.pad(dw_in, (1, 2, 1, 2)), dw.weight, stride=2, groups=dw.groups)
        assert torch.allclose(dw(dw_in), ref, atol=1e-6)
