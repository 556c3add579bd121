"""Stage timing and peak memory (report.json's ``stages``), the memory estimate and the check made before a
conversion starts."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import one_line_error

from edgenet.resources import StageMeter, available_memory_mb, note_worker_peak

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-stage peaks need /proc/self/clear_refs")


@linux
def test_each_stage_has_its_own_peak_and_nested_stages_count_toward_the_outer():
    meter = StageMeter()
    with meter.stage("outer"):
        with meter.stage("big"):
            block = np.ones(300 << 20, np.uint8)  # 300 MB, touched
            del block
        with meter.stage("small"):
            note_worker_peak(42.0)
    assert [s.stage for s in meter.stages] == ["big", "small", "outer"]  # in the order they ended
    by = {s.stage: s for s in meter.stages}
    assert by["big"].peak_rss_mb - by["small"].peak_rss_mb > 250, "the mark was not reset between stages"
    assert by["outer"].peak_rss_mb >= by["big"].peak_rss_mb
    assert by["small"].workers_peak_rss_mb == 42.0 and by["outer"].workers_peak_rss_mb == 42.0
    assert by["big"].workers_peak_rss_mb is None and not by["big"].peak_since_start


def test_a_worker_peak_outside_any_stage_is_ignored():
    note_worker_peak(1.0)  # no meter running: nothing to count it in, and no error


@linux
def test_available_memory_is_read():
    free = available_memory_mb()
    assert free is not None and 10 < free < 1 << 24


def test_estimate_grows_with_the_model_and_its_resolution():
    from edgenet.converters.memory import estimate_peak_mb, sizes_mb

    from edgenet.loading import load_model

    b0, b7 = load_model("b0"), load_model("b7")
    w0, a0 = sizes_mb(b0.model, 224)
    w7, a7 = sizes_mb(b7.model, 600)
    assert 15 < w0 < 25 and 240 < w7 < 270  # 5.3 M and 66 M float32 parameters
    assert a7 > 30 * a0
    assert estimate_peak_mb(b7.model, 600) > 2 * estimate_peak_mb(b0.model, 224)
    assert estimate_peak_mb(b0.model, 448) > estimate_peak_mb(b0.model, 224)


def test_a_conversion_that_will_not_fit_fails_before_it_starts(tmp_path, monkeypatch):
    from edgenet.converters.options import ConvertOptions
    from edgenet.converters.pipeline import convert

    from edgenet import resources
    from edgenet.loading import load_model

    monkeypatch.setattr(resources, "available_memory_mb", lambda: 512.0)
    loaded = load_model("b0", num_classes=3, img_size=64)
    out = tmp_path / "out"
    line = one_line_error(
        lambda: convert(loaded, ConvertOptions(out=out)), "b0 at 64 px", "GB (estimate)", "--ignore-memory-estimate"
    )
    assert "0.5 GB free" in line and not out.exists()


@pytest.mark.slow
def test_the_reference_calibrator_is_chosen_and_its_workers_measured(tmp_path, photos_dir):
    """``--calibrator tflite`` runs TFLite's calibrator in a worker process, whose own peak the stage records."""
    import json

    from click.testing import CliRunner

    from edgenet.cli.main import cli

    out = tmp_path / "out"
    args = ["convert", "--model", "lite0", "--num-classes", "3", "--img-size", "32", "--int8", "--calibrator",
            "tflite", "--calib-data", str(photos_dir), "--calib-samples", "4", "-q", "--out", str(out)]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["recipe"]["calibrator"] == "tflite"
    stage = next(s for s in report["stages"] if s["stage"] == "calibration (tflite)")
    assert stage["workers_peak_rss_mb"] is not None and 20 < stage["workers_peak_rss_mb"] < 4096
    bad = CliRunner().invoke(cli, [*args[:9], "exact", *args[10:]])
    assert bad.exit_code == 2 and "exact" in bad.output
