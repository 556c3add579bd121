"""`edgenet bundle`: metadata round trip, labels, model card (with the results db) and snippets that match the model."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tflite_builders as tb
from click.testing import CliRunner
from edgenet.converters.metadata import read_metadata
from helpers import LITE0_HEAD

from edgenet.artifacts.tflite_model import dequantize, quantize, read_tflite
from edgenet.cli.main import cli
from edgenet.errors import EdgenetError
from edgenet.imagenet import imagenet_classes
from edgenet.preprocess import Preprocess
from edgenet.workflows.bundle import bundle

PRE = {"resolution": 16, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "interpolation": "bicubic", "crop_pct": 1.0}


def converted_dir(tmp_path: Path, classes=("a", "b", "c", "d", "e"), pre=PRE, io="uint8") -> Path:
    """A folder shaped like `edgenet convert --out`: model_int8.tflite + report.json (+ labels.txt)."""
    d = tmp_path / "convert"
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(tb.tiny(io), d / "model_int8.tflite")
    report = {"edgenet_version": "0.1.0", "model": "tiny_net", "resolution": pre["resolution"], "preprocess": pre}
    (d / "report.json").write_text(json.dumps(report))
    if classes:
        (d / "labels.txt").write_text("\n".join(classes) + "\n")
    return d


def run(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def kotlin_constants(text: str) -> dict:
    """The numbers the Kotlin snippet will use, read back from its source."""
    out = {}
    for name, value in re.findall(r"const val (\w+) = ([^\n]+)", text):
        out[name] = value.strip('"').rstrip("f")
    for name, values in re.findall(r"val (MEAN|STD) = floatArrayOf\(([^)]*)\)", text):
        out[name] = [float(v.strip().rstrip("f")) for v in values.split(",")]
    return out


@pytest.mark.slow
def test_round_trip_from_a_convert_folder(tmp_path):
    src = converted_dir(tmp_path)
    out = tmp_path / "app"
    r = bundle(src / "model_int8.tflite", out)
    assert sorted(r.files) == sorted(
        ["EdgenetClassifier.kt", "EdgenetClassifier.swift", "MODEL_CARD.md", "labels.txt", "model_int8.tflite"]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(r.files)
    assert r.preprocess_from.endswith("report.json") and r.labels_from.endswith("labels.txt")
    meta = read_metadata(out / "model_int8.tflite")
    assert meta["packed_files"] == {"labels.txt": "a\nb\nc\nd\ne\n"}
    assert (out / "labels.txt").read_text() == "a\nb\nc\nd\ne\n"
    norm = meta["inputs"][0]["normalization"]
    np.testing.assert_allclose(norm["mean"], [127.5, 102.0, 76.5], rtol=1e-6)
    np.testing.assert_allclose(norm["std"], [51.0, 63.75, 76.5], rtol=1e-6)
    assert meta["name"].startswith("tiny_net") and meta["version"] == r.metadata["version"]
    x = np.random.default_rng(1).integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(run(out / "model_int8.tflite", x), run(src / "model_int8.tflite", x))
    card = (out / "MODEL_CARD.md").read_text()
    m = read_tflite(src / "model_int8.tflite")
    i = m.input_details[0]
    assert "16x16 RGB" in card and f"uint8 [1, 16, 16, 3], scale {i.scale[0]:.6g}, zero point {i.zero_point[0]}" in card
    assert "No results database given" in card and "predicted 8/8 ops" in card


@pytest.mark.parametrize("io", ["uint8", "float"])
def test_snippet_numbers_reproduce_the_reference_pipeline(tmp_path, io):
    """Parse the constants out of the Kotlin snippet, apply its formulas in numpy, compare with edgenet's own path."""
    src = converted_dir(tmp_path, io=io)
    out = tmp_path / "app"
    bundle(src / "model_int8.tflite", out, platform="android")
    kt = (out / "EdgenetClassifier.kt").read_text()
    assert not (out / "EdgenetClassifier.swift").exists()
    k = kotlin_constants(kt)
    pre = Preprocess.from_dict(PRE)
    assert int(k["SIZE"]) == 16 and int(k["RESIZE"]) == pre.resize_size and int(k["NUM_CLASSES"]) == 5
    np.testing.assert_allclose(k["MEAN"], PRE["mean"])
    np.testing.assert_allclose(k["STD"], PRE["std"])
    model = read_tflite(out / "model_int8.tflite")
    inp, outp = model.input_details[0], model.output_details[0]
    pixels = np.random.default_rng(2).integers(0, 256, (16, 16, 3)).astype(np.float32)
    x = (pixels / 255.0 - np.float32(k["MEAN"])) / np.float32(k["STD"])  # fillInput()
    ref = pre.to_array(_image(pixels), layout="NHWC")[None]  # edgenet's Preprocess (crop of a 16x16 is identity)
    np.testing.assert_allclose(x[None], ref, atol=1e-5)
    if io == "uint8":
        assert "input.put((x / INPUT_SCALE + INPUT_ZERO_POINT).roundToInt().coerceIn(0, 255)" in kt
        q = np.clip(np.floor(x / float(k["INPUT_SCALE"]) + int(k["INPUT_ZERO_POINT"]) + 0.5), 0, 255).astype(np.uint8)
        assert np.abs(q.astype(int) - quantize(ref, inp).astype(int)).max() <= 1  # half-up vs half-even only
        y = run(out / "model_int8.tflite", q[None])[0]
        assert "and 0xFF) - OUTPUT_ZERO_POINT) * OUTPUT_SCALE" in kt
        scores = (y.astype(np.float32) - int(k["OUTPUT_ZERO_POINT"])) * float(k["OUTPUT_SCALE"])
        np.testing.assert_allclose(scores, dequantize(y, outp), rtol=1e-6)
    else:
        assert "input.putFloat(x)" in kt and "INPUT_SCALE" not in kt and "output[0].copyOf()" in kt
        assert inp.dtype == "float32"


def _image(pixels: np.ndarray):
    from PIL import Image

    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def test_swift_snippet_matches_the_model_types(tmp_path):
    bundle(converted_dir(tmp_path) / "model_int8.tflite", tmp_path / "app", platform="ios")
    swift = (tmp_path / "app" / "EdgenetClassifier.swift").read_text()
    inp = read_tflite(tmp_path / "app" / "model_int8.tflite").input_details[0]
    assert f"static let inputZeroPoint = {inp.zero_point[0]}" in swift
    assert f"static let inputScale: Float = {inp.scale[0]:.9g}" in swift
    assert "UInt8(clamping:" in swift and "import TensorFlowLite" in swift
    assert not (tmp_path / "app" / "EdgenetClassifier.kt").exists()


@pytest.mark.slow
def test_checkpoint_supplies_preprocessing_and_classes(tmp_path, converted_lite0_uint8):
    out_dir, _, ckpt = converted_lite0_uint8
    model = tmp_path / "model_int8.tflite"
    shutil.copy(out_dir / "model_int8.tflite", model)  # no report.json / labels.txt beside it
    r = bundle(model, tmp_path / "app", checkpoint=ckpt)
    assert r.labels == 9 and r.labels_from == f"checkpoint:{ckpt}" and r.preprocess["resolution"] == 64
    meta = read_metadata(tmp_path / "app" / "model_int8.tflite")
    assert meta["packed_files"]["labels.txt"].splitlines() == [imagenet_classes()[i] for i in LITE0_HEAD]
    labels = tmp_path / "names.txt"
    labels.write_text("\n".join(f"n{i}" for i in range(9)))
    r = bundle(model, tmp_path / "app2", checkpoint=ckpt, labels_path=labels)
    assert r.labels_from == str(labels)


def test_bad_inputs(tmp_path):
    src = converted_dir(tmp_path)
    model = src / "model_int8.tflite"
    out = tmp_path / "app"
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("x\ny\nz\n")
    with pytest.raises(EdgenetError, match=r"3 labels in .*wrong.txt but .* outputs 5 classes"):
        bundle(model, out, labels_path=wrong)
    assert not out.exists()  # nothing half-written
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(model, alone / "m.tflite")
    with pytest.raises(EdgenetError, match="no preprocessing found"):
        bundle(alone / "m.tflite", out)
    other = converted_dir(tmp_path / "o", pre={**PRE, "resolution": 32})
    with pytest.raises(EdgenetError, match=r"input is 16x16 but .* says resolution 32"):
        bundle(other / "model_int8.tflite", out)
    text = tmp_path / "model.tflite"
    text.write_text("hello")
    with pytest.raises(EdgenetError, match="not a TFLite model"):
        bundle(text, out)
    nolabels = converted_dir(tmp_path / "n", classes=())
    with pytest.raises(EdgenetError, match="no class names"):
        bundle(nolabels / "model_int8.tflite", out)
    with pytest.raises(EdgenetError, match="not found"):
        bundle(model, out, db=tmp_path / "missing.sqlite")


def test_existing_metadata_replaced(tmp_path):
    src = converted_dir(tmp_path)
    first = bundle(src / "model_int8.tflite", tmp_path / "one")
    again = converted_dir(tmp_path / "again")
    shutil.copy(tmp_path / "one" / "model_int8.tflite", again / "model_int8.tflite")
    second = bundle(again / "model_int8.tflite", tmp_path / "two")
    assert not any("already had" in w for w in first.warnings)
    assert any("already had TFLite metadata: replaced" in w for w in second.warnings)
    one, two = (tmp_path / d / "model_int8.tflite" for d in ("one", "two"))
    assert read_tflite(two).metadata_names.count("TFLITE_METADATA") == 1
    m1, m2 = read_metadata(one), read_metadata(two)
    assert m1.pop("version") != m2.pop("version")  # the version names the source file's hash
    assert m1 == m2 and m2["packed_files"] == {"labels.txt": "a\nb\nc\nd\ne\n"}
    assert one.stat().st_size == two.stat().st_size  # nothing of the first bundle left behind


def _bench_row(model: Path, **kw):
    from edgenet.device_bench.results import BenchResult, LatencyStats

    data = model.read_bytes()
    base = dict(
        model="tiny_net",
        model_file=str(model),
        model_sha256=hashlib.sha256(data).hexdigest(),
        model_bytes=len(data),
        model_format="tflite",
        precision="int8",
        resolution=16,
        backend="tflite",
        backend_version="2.3.0",
        device="cpu",
        target="local",
        machine="test cpu",
        threads=1,
        delegate="xnnpack",
        batch=1,
        runs=10,
        warmup=2,
        latency_ms=LatencyStats(1.25, 1.5, 1.75, 1.3, 0.1, 1.1, 1.9),
        throughput_per_s=None,
        load_ms=1.0,
        first_inference_ms=2.0,
        peak_rss_mb=50.0,
        input_dtype="uint8",
        env={},
        created_at="2025-01-01T00:00:00+00:00",
        config_key="k1",
        top1=75.0,  # percent, as bench stores them (edgenet.device_bench.evaldata.accuracy)
        top5=95.0,
        eval_samples=20,
    )
    return BenchResult(**{**base, **kw})


def test_model_card_reads_the_results_db(tmp_path):
    from edgenet.device_bench.db import ResultsDB

    src = converted_dir(tmp_path)
    model = src / "model_int8.tflite"
    db = tmp_path / "results.sqlite"
    with ResultsDB(db) as results:
        run_id = results.start_run("test")
        results.add_result(run_id, _bench_row(model, delegate_ran="none", interpreter="tflite_runtime 2.14.0"))
        results.add_result(run_id, _bench_row(model, model_sha256="0" * 64, config_key="other"))  # another file
        results.finish_run(run_id, "complete")
    r = bundle(model, tmp_path / "app", db=db)
    assert r.db_rows == 1
    card = (tmp_path / "app" / "MODEL_CARD.md").read_text()
    row = "| tflite | xnnpack | none (! xnnpack not applied) | tflite_runtime 2.14.0 | cpu | local | 1 | 1.25 | 1.50 |"
    assert row + " 75.00 % | 95.00 % |" in card  # (was 7500.00%); the delegate that did not run is flagged
    empty = tmp_path / "empty.sqlite"
    ResultsDB(empty).close()
    bundle(model, tmp_path / "app2", db=empty)
    assert "has no rows for this model file" in (tmp_path / "app2" / "MODEL_CARD.md").read_text()


def test_cli(tmp_path):
    src = converted_dir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["bundle", str(src / "model_int8.tflite"), "--out", str(tmp_path / "app"), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["labels"] == 5 and d["input"]["dtype"] == "uint8" and "MODEL_CARD.md" in d["files"]
    assert d["metadata"]["min_parser_version"] == "1.0.0"
    wrong = tmp_path / "w.txt"
    wrong.write_text("only\n")
    args = ["bundle", str(src / "model_int8.tflite"), "--out", str(tmp_path / "b"), "--labels", str(wrong)]
    res = runner.invoke(cli, args)
    assert res.exit_code == 2 and "1 labels in" in res.output and "outputs 5 classes" in res.output


def test_model_card_tabulates_recorded_accuracy():
    from edgenet.workflows.bundle import _recorded_accuracy

    acc = {"torch": {"top1": 0.8867, "top5": 0.9767, "n": 900}, "int8": {"top1": 0.8778, "top5": 0.9756, "n": 900}}
    assert _recorded_accuracy(acc)[4:6] == ["| torch | 88.67 % | 97.67 % | 900 |", "| int8 | 87.78 % | 97.56 % | 900 |"]
    assert _recorded_accuracy({"val_top1": 0.5, "epoch": 3}) == ["Recorded with the model: epoch 3, val_top1 0.5", ""]
