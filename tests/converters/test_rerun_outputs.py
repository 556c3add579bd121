"""What a re-run of convert leaves in --out: the user's labels.txt stays, and report.json names final paths."""

from __future__ import annotations

import json

import pytest
from edgenet.converters.pipeline import ConvertOptions, convert

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
