"""What a re-run of convert leaves in --out: the user's labels.txt stays, and report.json names final paths."""

from __future__ import annotations

import json

import pytest
from edgenet.converters.pipeline import ConvertOptions, convert

from edgenet.errors import EdgenetError
from edgenet.loading import load_model

pytestmark = pytest.mark.slow


def test_rerun_keeps_the_users_labels_and_reports_final_paths(tmp_path):
    loaded = load_model("lite0", num_classes=3, img_size=32)
    assert loaded.classes is None  # nothing for convert to write as labels.txt
    out = tmp_path / "out"
    convert(loaded, ConvertOptions(out=out, parity_samples=2))
    (out / "labels.txt").write_text("cat\ndog\nbird\n")  # the user names the outputs
    report = convert(loaded, ConvertOptions(out=out, edgetpu=True, int8_io="uint8", calib_samples=4, parity_samples=2))
    assert (out / "labels.txt").read_text() == "cat\ndog\nbird\n"
    text = (out / "report.json").read_text()
    assert ".partial" not in text, "report.json names the deleted staging folder"
    model = json.loads(text)["edgetpu"]["prediction"]["model"]
    assert model == str(out / "model_int8.tflite") and report.edgetpu["prediction"]["model"] == model


def test_convert_never_writes_over_files_no_earlier_report_lists(tmp_path):
    """Issue 26.3: a folder without an edgenet report, holding the user's own model_int8.tflite and
    model_dynamic.tflite, lost both when converted into."""
    loaded = load_model("lite0", num_classes=3, img_size=32)
    out = tmp_path / "mine"
    out.mkdir()
    mine = {"model_int8.tflite": b"my int8 model", "model_dynamic.tflite": b"my dynamic model", "notes": b"n"}
    for name, data in mine.items():
        (out / name).write_bytes(data)
    with pytest.raises(EdgenetError, match=r"holds model_int8.tflite, which no edgenet report.json there lists"):
        convert(loaded, ConvertOptions(out=out, int8=True, calib_samples=2, parity_samples=2))
    report = convert(loaded, ConvertOptions(out=out, parity_samples=2))  # fp32 only: nothing of theirs is in the way
    assert {n: (out / n).read_bytes() for n in mine} == mine
    assert not any("earlier conversion" in w for w in report.warnings)
    again = convert(loaded, ConvertOptions(out=out, fp16=True, parity_samples=2))
    (note,) = [w for w in again.warnings if "earlier conversion" in w]
    assert "replaced model.onnx, model_fp32.tflite, report.json" in note and "removed" not in note
    third = convert(loaded, ConvertOptions(out=out, parity_samples=2))
    (note,) = [w for w in third.warnings if "earlier conversion" in w]
    assert "removed model_fp16.tflite (not rebuilt this time)" in note
    assert not (out / "model_fp16.tflite").exists()
    assert {n: (out / n).read_bytes() for n in mine} == mine


def test_a_report_json_edgenet_did_not_write_is_the_users(tmp_path):
    loaded = load_model("lite0", num_classes=3, img_size=32)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.json").write_text('{"my": "analysis"}')
    with pytest.raises(EdgenetError, match=r"holds report\.json, which no edgenet report\.json there lists"):
        convert(loaded, ConvertOptions(out=out, parity_samples=2))
    assert (out / "report.json").read_text() == '{"my": "analysis"}'
