"""--eval-data: top-1/top-5 through the benchmarked backend, with the model's own preprocessing and labels."""

import json
import shutil

import numpy as np
import pytest

from device_bench.bench import EvalOptions, Plan, run_benchmarks
from device_bench.evaldata import accuracy, list_labeled_images
from edgenet.errors import EdgenetError

FAST = dict(warmup=1, runs=3)


def reference_top1(tiny) -> float:
    """Top-1 of the checkpoint computed directly in PyTorch, image by image."""
    import torch

    from edgenet.checkpoint import load_checkpoint

    ck = load_checkpoint(tiny / "torch" / "model.pt")
    net = ck.build()
    hits = n = 0
    for i, c in enumerate(ck.classes):
        for p in sorted((tiny / "eval" / c).glob("*.jpg")):
            with torch.no_grad():
                hits += int(net(torch.from_numpy(ck.preprocess(p))[None]).argmax() == i)
            n += 1
    return 100.0 * hits / n


def test_torch_and_onnxruntime_agree_with_direct_pytorch(tiny):
    ev = EvalOptions(tiny / "eval")
    (t,) = run_benchmarks([tiny / "torch" / "model.pt"], Plan(**FAST), eval_opts=ev, progress=False)
    (o,) = run_benchmarks([tiny / "torch" / "model.onnx"], Plan(**FAST), eval_opts=ev, progress=False)
    assert t.eval_samples == o.eval_samples == 12
    assert t.top1 == pytest.approx(reference_top1(tiny))
    assert o.top1 == t.top1 and o.top5 == t.top5 == 100.0  # 3 classes: top-5 holds every class


def test_tflite_int8_eval_once_per_setting(tiny):
    ev = EvalOptions(tiny / "eval", limit=6)
    res = run_benchmarks(
        [tiny / "tflite" / "model_int8.tflite"], Plan(threads=(1, 2), **FAST), eval_opts=ev, progress=False
    )
    assert [r.eval_samples for r in res] == [6, 6]
    assert res[0].top1 == res[1].top1 and 0 <= res[0].top1 <= 100  # threads do not change answers


def test_tflite_eval_matches_the_interpreter_run_by_hand(tiny):
    """Quantization with the tensor's scale/zero point, NHWC layout and label order, cross-checked."""
    from ai_edge_litert.interpreter import Interpreter

    from converters.tflite_model import quantize, read_tflite
    from edgenet.preprocess import Preprocess

    model = tiny / "tflite" / "model_int8.tflite"
    (r,) = run_benchmarks([model], Plan(**FAST), eval_opts=EvalOptions(tiny / "eval"), progress=False)
    pre = Preprocess.from_dict(json.loads((tiny / "tflite" / "report.json").read_text())["preprocess"])
    t = read_tflite(model).input_details[0]
    it = Interpreter(model_path=str(model))
    it.allocate_tensors()
    hits = n = 0
    for i, c in enumerate(["airplane", "automobile", "bird"]):
        for p in sorted((tiny / "eval" / c).glob("*.jpg")):
            it.set_tensor(it.get_input_details()[0]["index"], quantize(pre(p, layout="NHWC")[None], t))
            it.invoke()
            out = it.get_tensor(it.get_output_details()[0]["index"])[0].astype(np.int32)
            hits += int(out.argmax() == i)
            n += 1
    assert r.top1 == pytest.approx(100.0 * hits / n)


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
