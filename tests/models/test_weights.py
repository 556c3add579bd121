"""Importing torchvision/timm weight files: outputs equal the peer's, and every bad file is a one-line error."""

import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from edgenet.errors import EdgenetError
from edgenet.loading import load_model
from edgenet.models import create_model
from edgenet.weights import (
    config_for_format,
    create_from_weights,
    detect_format,
    load_pretrained,
    load_state_dict_file,
)

# case -> (peer library, peer model, file name as the peer's users save it, edgenet model, format detected)
CASES = {
    "torchvision_b0": ("torchvision", "efficientnet_b0", "efficientnet_b0.pth", "b0", "torchvision"),
    "timm_b0": ("timm", "efficientnet_b0", "efficientnet_b0.pth", "b0", "timm"),
    "timm_tf_b0": ("timm", "tf_efficientnet_b0", "tf_efficientnet_b0.pth", "b0", "timm-tf"),
    "timm_tf_lite0": ("timm", "tf_efficientnet_lite0", "tf_efficientnet_lite0.safetensors", "lite0", "timm-tf"),
    "timm_tf_es": ("timm", "tf_efficientnet_es", "tf_efficientnet_es.pth", "edgetpu_s", "timm-tf"),
}


def randomize(model: nn.Module) -> nn.Module:
    """Random weights *and* batch-norm statistics/affine, so a mis-mapped BN tensor cannot go unnoticed."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """Each case's peer model with random weights, and its state dict saved the way the peer's users save it."""
    torch.manual_seed(0)
    out = {}
    for case, (lib, peer_name, fname, _, _) in CASES.items():
        peer = torchvision.models.get_model(peer_name) if lib == "torchvision" else timm.create_model(peer_name)
        peer = randomize(peer)
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
def test_imported_outputs_match_peer(case, peers):
    peer, path = peers[case]
    _, _, _, name, fmt = CASES[case]
    assert detect_format(load_state_dict_file(path), path) == fmt
    loaded = load_model(model=name, weights=path)
    assert loaded.weights == f"weights:{path.name}" and loaded.num_classes == 1000
    # even sizes are where TF's "SAME" padding is asymmetric; odd ones are where it is not
    for size in (64, 65) if fmt == "timm-tf" else (64,):
        torch.testing.assert_close(outputs(loaded.model, size), outputs(peer, size), atol=1e-5, rtol=1e-5)


def test_tf_weights_under_another_name_need_the_format(peers, tmp_path):
    peer, path = peers["timm_tf_b0"]
    renamed = tmp_path / "my_b0.pth"
    renamed.write_bytes(path.read_bytes())
    explicit = create_from_weights("b0", renamed, "timm-tf")
    torch.testing.assert_close(outputs(explicit, 64), outputs(peer, 64), atol=1e-5, rtol=1e-5)
    # auto-detect sees a plain timm file: PyTorch padding, so stride-2 convs on even inputs see other pixels
    guessed = create_from_weights("b0", renamed)
    assert not torch.allclose(outputs(guessed, 64), outputs(peer, 64), atol=1e-3)


def test_load_pretrained_into_a_built_model(peers):
    peer, path = peers["timm_tf_lite0"]
    model = create_model("lite0", **config_for_format("timm-tf"))
    assert load_pretrained(model, path) == "timm-tf"
    torch.testing.assert_close(outputs(model, 64), outputs(peer, 64), atol=1e-5, rtol=1e-5)


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(EdgenetError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and e.value.exit_code == 2
    return msg


def test_missing_file(tmp_path):
    msg = one_line_error(create_from_weights, "b0", tmp_path / "nope.pth")
    assert str(tmp_path / "nope.pth") in msg and "not found" in msg and "pass a local" in msg


@pytest.mark.parametrize("fname", ["junk.pth", "junk.safetensors"])
def test_corrupt_file(tmp_path, fname):
    path = tmp_path / fname
    path.write_bytes(b"\x00\x01 definitely not weights " * 10)
    msg = one_line_error(create_from_weights, "b0", path)
    assert str(path) in msg and "not a readable state dict" in msg


def test_truncated_file(peers, tmp_path):
    _, good = peers["torchvision_b0"]
    path = tmp_path / good.name
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert str(path) in one_line_error(create_from_weights, "b0", path)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    assert "does not hold a state dict of tensors" in one_line_error(create_from_weights, "b0", path)
    path = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    msg = one_line_error(create_from_weights, "b0", path)
    assert str(path) in msg and "unrecognised weight layout" in msg and "fc.weight" in msg


def test_wrong_model_names_first_missing_keys(peers):
    _, path = peers["torchvision_b0"]
    msg = one_line_error(create_from_weights, "b1", path)  # B1 is deeper: its extra blocks are not in the file
    assert str(path) in msg and "efficientnet_b1" in msg
    assert "missing key(s), first: ['features.1.1.block.0.0.weight'" in msg


def test_wrong_family_names_unexpected_keys(peers):
    _, path = peers["timm_tf_b0"]
    msg = one_line_error(create_from_weights, "lite0", path)  # B0 has squeeze-excite, Lite does not
    assert str(path) in msg and "unexpected key(s), first: ['blocks.0.0.se.conv_reduce.weight'" in msg


def test_wrong_class_count_names_the_shape(peers):
    _, path = peers["torchvision_b0"]
    msg = one_line_error(create_from_weights, "b0", path, num_classes=10)
    assert str(path) in msg and "classifier.1.weight (1000, 1280) vs expected (10, 1280)" in msg


def test_new_class_count_replaces_the_classifier(peers):
    """Fine-tuning: --num-classes with a 1000-class file keeps the backbone and starts a new classifier."""
    peer, path = peers["timm_b0"]
    loaded = load_model(model="b0", weights=path, num_classes=3)
    assert loaded.num_classes == 3 and loaded.model.classifier.out_features == 3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.forward_features(x), peer.forward_features(x), atol=1e-5, rtol=1e-5)


def test_unknown_format_is_an_error(peers):
    _, path = peers["timm_b0"]
    assert "unknown weight format 'keras'" in one_line_error(create_from_weights, "b0", path, "keras")


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
