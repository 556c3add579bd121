"""``edgenet predict MODEL IMAGE...`` on the real photos in tests/fixtures/photos: top-k labels and scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import png_with_size, tiny_checkpoint
from photos import PHOTOS, PLAUSIBLE

from edgenet.cli.main import cli

NAMES = ("chelsea", "coffee", "rocket")


def predict(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["predict", *map(str, args)])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def lite0_checkpoint(tmp_path_factory) -> Path:
    """The real pretrained Lite0 (offline, from its pip package) as an edgenet checkpoint with ImageNet names."""
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model

    net = load_model("lite0", pretrained=True)
    path = tmp_path_factory.mktemp("lite0") / "lite0.pt"
    return save_checkpoint(path, checkpoint_from_model(net.model, net.classes, net.preprocess))


def _plausible(name: str) -> set[str]:
    from edgenet.imagenet import imagenet_classes

    return {imagenet_classes()[i] for i in PLAUSIBLE[name]}


@pytest.mark.slow
def test_checkpoint_names_the_photos(lite0_checkpoint):
    code, out = predict(lite0_checkpoint, *(PHOTOS / f"{n}.jpg" for n in NAMES), "--json")
    assert code == 0, out
    results = json.loads(out)
    assert [Path(r["image"]).stem for r in results] == list(NAMES)
    for name, r in zip(NAMES, results):
        scores = [t["score"] for t in r["top_k"]]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
        assert _plausible(name) & {t["label"] for t in r["top_k"]}, (name, r["top_k"])
    assert results[1]["top_k"][0]["label"] == "espresso" and results[1]["top_k"][0]["score"] > 0.5


@pytest.mark.slow
def test_text_output_and_top_k(lite0_checkpoint):
    code, out = predict(lite0_checkpoint, PHOTOS / "coffee.jpg", "--top-k", "2")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].endswith("coffee.jpg: top-2") and len(lines) == 3 and lines[1].endswith("espresso")


def test_k_is_at_most_the_number_of_classes_and_scores_are_a_softmax(tmp_path):
    """3 classes: "top-3", never a top-5 that is always 100 %."""
    import torch

    from edgenet.checkpoint import load_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog", "eel"])
    code, out = predict(ckpt, PHOTOS / "chelsea.jpg", "--json")
    assert code == 0, out
    (r,) = json.loads(out)
    c = load_checkpoint(ckpt)
    with torch.no_grad():
        logits = c.build()(torch.from_numpy(c.preprocess(PHOTOS / "chelsea.jpg"))[None])[0].double()
    expected = torch.softmax(logits, 0).numpy()
    assert [t["label"] for t in r["top_k"]] == [["cat", "dog", "eel"][i] for i in np.argsort(-expected)]
    assert [t["score"] for t in r["top_k"]] == pytest.approx(sorted(expected, reverse=True), abs=1e-6)
    code, out = predict(ckpt, PHOTOS / "chelsea.jpg")
    assert out.splitlines()[0].endswith("top-3")


@pytest.mark.parametrize(
    "image, phrase",
    [
        ("missing.jpg", "missing.jpg: image not found"),
        ("text.jpg", "text.jpg: not a readable image"),
        ("bomb.png", "bomb.png: over 179 megapixels"),
    ],
)
def test_bad_images_are_one_line(image, phrase, tmp_path):
    (tmp_path / "text.jpg").write_text("not a photo")
    png_with_size(tmp_path / "bomb.png", 30000, 30000)
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"])
    code, out = predict(ckpt, PHOTOS / "coffee.jpg", tmp_path / image, PHOTOS / "chelsea.jpg")
    assert code == 2 and out.strip().splitlines()[-1].startswith("error: 1 of 3 image(s) could not be read"), out
    assert phrase in out and "Traceback" not in out, out
    # issue 26.9: one bad image no longer hides the good ones' answers (both printed, before and after it)
    assert out.count(": top-2") == 2 and "coffee.jpg: top-2" in out and "chelsea.jpg: top-2" in out


def test_a_file_that_is_no_model_is_one_line(tmp_path):
    bare = tmp_path / "model.onnx"
    bare.write_bytes(b"\x08\x07not really onnx")
    code, out = predict(bare, PHOTOS / "coffee.jpg")
    assert code == 2 and "model.onnx: not a model edgenet can" in out and "Traceback" not in out, out


@pytest.mark.slow
def test_tflite_and_onnx_agree_with_the_checkpoint(converted_lite0_uint8):
    """The converted real Lite0 (9 ImageNet classes, uint8 I/O): same top-1 as its checkpoint on each photo."""
    out, _, ckpt = converted_lite0_uint8
    photos = [PHOTOS / f"{n}.jpg" for n in NAMES]
    top1 = {}
    for model in (ckpt, out / "model.onnx", out / "model_fp32.tflite", out / "model_int8.tflite"):
        code, text = predict(model, *photos, "--json", "--top-k", "3")
        assert code == 0, text
        results = json.loads(text)
        assert all(len(r["top_k"]) == 3 for r in results)
        top1[model.name] = [r["top_k"][0]["label"] for r in results]
        for name, r in zip(NAMES, results):
            assert _plausible(name) & {t["label"] for t in r["top_k"]}, (model.name, name, r["top_k"])
    assert len({tuple(v) for v in top1.values()}) == 1, top1


@pytest.mark.slow
def test_a_model_file_without_report_needs_its_preprocessing(converted_lite0_uint8, tmp_path):
    import shutil

    out, _, _ = converted_lite0_uint8
    bare = tmp_path / "model_fp32.tflite"
    shutil.copy(out / "model_fp32.tflite", bare)
    code, text = predict(bare, PHOTOS / "coffee.jpg")
    assert code == 2 and "pass --mean R,G,B --std R,G,B --img-size N" in text, text
    pre = json.loads((out / "report.json").read_text())["preprocess"]
    triple = [",".join(map(str, pre[k])) for k in ("mean", "std")]
    code, text = predict(bare, PHOTOS / "coffee.jpg", "--mean", triple[0], "--std", triple[1], "--img-size", 64)
    assert code == 0 and "class " in text, text  # no labels.txt either: outputs are numbered


def test_predict_streams_and_json_names_the_unreadable(tmp_path):
    """Issue 26.7/26.9: images are predicted one at a time (memory flat), --json keeps one entry per image."""
    (tmp_path / "text.jpg").write_text("not a photo")
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"])
    r = CliRunner().invoke(
        cli, ["predict", str(ckpt), str(PHOTOS / "coffee.jpg"), str(tmp_path / "text.jpg"), "--json"]
    )
    assert r.exit_code == 2, r.output
    results = json.loads(r.stdout)
    assert [bool(x["top_k"]) for x in results] == [True, False] and "not a readable image" in results[1]["error"]


def test_img_size_is_capped_like_convert(tmp_path):
    """Issue 26.7: a dynamic-size ONNX at --img-size 8000 took 8.7 GB; the cap is convert's 2048."""
    ckpt = tiny_checkpoint(tmp_path / "m.pt", ["cat", "dog"])
    code, out = predict(ckpt, PHOTOS / "coffee.jpg", "--img-size", "8000")
    assert code == 2 and "8000 is not in the range 32<=x<=2048" in out, out
