"""--eval-data: top-1/top-5 through the benchmarked backend, with the model's own preprocessing and labels."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from edgenet.device_bench.bench import EvalOptions, Plan, run_benchmarks
from edgenet.device_bench.evaldata import accuracy, list_labeled_images
from tiny_models import CLASSES

from edgenet.errors import EdgenetError

FAST = dict(warmup=1, runs=3)


def reference_topk(folder: Path) -> tuple[float, float]:
    """Top-1 and top-5 of ``folder``'s checkpoint on ``folder/../eval``, computed directly in PyTorch, one image
    at a time."""
    import torch

    from edgenet.checkpoint import load_checkpoint

    ck = load_checkpoint(folder / "model.pt")
    net = ck.build()
    top1 = top5 = n = 0
    for i, c in enumerate(ck.classes):
        for p in sorted((folder.parent / "eval" / c).glob("*.jpg")):
            with torch.no_grad():
                ranked = net(torch.from_numpy(ck.preprocess(p))[None])[0].argsort(descending=True).tolist()
            top1 += ranked[0] == i
            top5 += i in ranked[:5]
            n += 1
    return 100.0 * top1 / n, 100.0 * top5 / n


@pytest.mark.slow
def test_torch_and_onnxruntime_agree_with_direct_pytorch(tiny):
    ev = EvalOptions(tiny / "eval")
    (t,) = run_benchmarks([tiny / "torch" / "model.pt"], Plan(**FAST), eval_opts=ev, progress=False)
    (o,) = run_benchmarks([tiny / "torch" / "model.onnx"], Plan(**FAST), eval_opts=ev, progress=False)
    assert t.eval_samples == o.eval_samples == 12
    assert t.top1 == pytest.approx(reference_topk(tiny / "torch")[0])
    assert o.top1 == t.top1


@pytest.fixture(scope="module")
def seven_classes(tmp_path_factory) -> Path:
    """The tiny torch model with 7 outputs, and 3 synthetic images per class: top-5 can miss (with 3 it cannot)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("seven")
    classes = [f"c{i}" for i in range(7)]
    cmd = [sys.executable, tiny_models.__file__, "torch", str(root / "torch"), ",".join(classes)]
    subprocess.run(cmd, check=True, capture_output=True)
    rng = np.random.default_rng(1)
    for c in classes:
        (root / "eval" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "eval" / c / f"{i}.jpg")
    return root / "torch"


@pytest.mark.slow
def test_top5_through_both_backends_matches_direct_pytorch(seven_classes):
    top1, top5 = reference_topk(seven_classes)
    assert top1 < top5 < 100  # so the comparison below tells top-5 from top-1 and from "every class"
    ev = EvalOptions(seven_classes.parent / "eval")
    for model in ("model.pt", "model.onnx"):
        (r,) = run_benchmarks([seven_classes / model], Plan(**FAST), eval_opts=ev, progress=False)
        assert (r.eval_samples, r.top1, r.top5) == (21, pytest.approx(top1), pytest.approx(top5)), model


def interpreter_top1(model: Path, items: list[tuple[Path, int]]) -> float:
    """Top-1 of a .tflite file on (image, class) pairs, run by hand: the tensor's own scale and zero point,
    NHWC layout, labels by index."""
    from ai_edge_litert.interpreter import Interpreter

    from edgenet.artifacts.tflite_model import quantize, read_tflite
    from edgenet.preprocess import Preprocess

    pre = Preprocess.from_dict(json.loads((model.parent / "report.json").read_text())["preprocess"])
    t = read_tflite(model).input_details[0]
    it = Interpreter(model_path=str(model))
    it.allocate_tensors()
    hits = 0
    for p, label in items:
        it.set_tensor(it.get_input_details()[0]["index"], quantize(pre(p, layout="NHWC")[None], t))
        it.invoke()
        hits += int(it.get_tensor(it.get_output_details()[0]["index"])[0].astype(np.int32).argmax() == label)
    return 100.0 * hits / len(items)


def test_tflite_int8_eval_once_per_setting(tiny):
    model = tiny / "tflite" / "model_int8.tflite"
    ev = EvalOptions(tiny / "eval", limit=6)
    res = run_benchmarks([model], Plan(threads=(1, 2), **FAST), eval_opts=ev, progress=False)
    assert [r.eval_samples for r in res] == [6, 6]
    six = list_labeled_images(tiny / "eval", CLASSES, 3, limit=6)
    assert res[0].top1 == res[1].top1 == pytest.approx(interpreter_top1(model, six))  # threads do not change answers


def test_tflite_eval_matches_the_interpreter_run_by_hand(tiny):
    """Quantization with the tensor's scale/zero point, NHWC layout and label order, cross-checked."""
    model = tiny / "tflite" / "model_int8.tflite"
    (r,) = run_benchmarks([model], Plan(**FAST), eval_opts=EvalOptions(tiny / "eval"), progress=False)
    items = [(p, i) for i, c in enumerate(CLASSES) for p in sorted((tiny / "eval" / c).glob("*.jpg"))]
    assert r.top1 == pytest.approx(interpreter_top1(model, items))


def test_missing_preprocessing_asks_for_mean_std_size(tiny, tmp_path):
    bare = tmp_path / "m.tflite"
    shutil.copy(tiny / "tflite" / "model_fp32.tflite", bare)
    with pytest.raises(EdgenetError, match=r"no report\.json.*--mean, --std and --img-size"):
        run_benchmarks([bare], Plan(**FAST), eval_opts=EvalOptions(tiny / "eval"), progress=False)
    (tmp_path / "labels.txt").write_text("airplane\nautomobile\nbird\n")
    ev = EvalOptions(tiny / "eval", limit=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), img_size=32)
    (r,) = run_benchmarks([bare], Plan(**FAST), eval_opts=ev, progress=False)
    assert r.eval_samples == 3
    with pytest.raises(EdgenetError, match="takes 32 px inputs but preprocessing says 64"):
        run_benchmarks(
            [bare], Plan(**FAST), eval_opts=ev.__class__(tiny / "eval", 3, ev.mean, ev.std, 64), progress=False
        )


def test_folder_classes_must_be_model_labels(tiny, tmp_path):
    shutil.copytree(tiny / "eval", tmp_path / "ev")
    (tmp_path / "ev" / "bird").rename(tmp_path / "ev" / "zebra")
    with pytest.raises(EdgenetError, match="zebra are not among the model's labels"):
        list_labeled_images(tmp_path / "ev", ["airplane", "automobile", "bird"], 3)
    with pytest.raises(EdgenetError, match="folder not found"):
        list_labeled_images(tmp_path / "nope", None, 3)


def test_balanced_limit_and_unreadable_images_are_skipped(tiny, tmp_path):
    shutil.copytree(tiny / "eval", tmp_path / "ev")
    items = list_labeled_images(tmp_path / "ev", ["airplane", "automobile", "bird"], 3, limit=6)
    assert sorted(label for _, label in items) == [0, 0, 1, 1, 2, 2]
    (tmp_path / "ev" / "bird" / "broken.jpg").write_bytes(b"not a jpeg")
    (r,) = run_benchmarks(
        [tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), eval_opts=EvalOptions(tmp_path / "ev"), progress=False
    )
    assert r.eval_samples == 12  # 13 files, one unreadable


def test_accuracy_maths():
    assert accuracy([[1, 0, 2], [2, 1, 0], [0, 2, 1]], np.array([1, 1, 1])) == (pytest.approx(100 / 3), 100.0)


def test_class_count_must_match_the_model(tiny, tmp_path):
    """Without labels.txt, folder count must equal the model's outputs; with it, its length must."""
    bare = tmp_path / "m" / "model.tflite"
    bare.parent.mkdir()
    shutil.copy(tiny / "tflite" / "model_fp32.tflite", bare)
    shutil.copy(tiny / "tflite" / "report.json", bare.parent)
    two = tmp_path / "two"
    for c in ("airplane", "bird"):
        shutil.copytree(tiny / "eval" / c, two / c)
    with pytest.raises(EdgenetError, match="2 class folders but the model has 3 outputs"):
        run_benchmarks([bare], Plan(**FAST), eval_opts=EvalOptions(two), progress=False)
    (bare.parent / "labels.txt").write_text("airplane\nbird\n")
    with pytest.raises(EdgenetError, match=r"labels\.txt names 2 classes but the model has 3 outputs"):
        run_benchmarks([bare], Plan(**FAST), eval_opts=EvalOptions(two), progress=False)
