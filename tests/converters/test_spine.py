"""The staged conversion API: a new artefact kind is one registry entry, the float graph and the calibration are
built once, calibration split across processes is exact, and every caller goes through the same stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edgenet.converters import kinds
from edgenet.converters.graph import export_float
from edgenet.converters.kinds import BuildContext, Kind, register
from edgenet.converters.pipeline import ConvertOptions, build_artifact, convert
from edgenet.quantization.calibration import Calibration
from edgenet.quantization.calibrator import calibrate, merge_ranges
from edgenet.quantization.quantizers import get_quantizer
from edgenet.quantization.recipe import Int8Recipe
from helpers import realistic_lite0

from edgenet.artifacts.runtime import TFLiteRunner
from edgenet.artifacts.tflite_model import read_tflite
from edgenet.errors import EdgenetError
from edgenet.loading import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, photos_dir):
    """lite0 at 64 px with real photos' BN statistics, its float graph and 12 calibration samples."""
    return realistic_lite0(tmp_path_factory.mktemp("graph"), photos_dir, 5, 12, 4)


def test_a_new_kind_is_one_registry_entry(tiny, tmp_path):
    """Registered by a test, built, verified against fp32, listed in report.json and published like the others."""
    loaded, _, _ = tiny

    def int8_float_io(ctx: BuildContext) -> bytes:  # the whole "module" of a new kind
        return ctx.quantizer.int8(ctx.calibrated(), "float32", ())

    register(Kind("int8_fio", "model_int8_fio.tflite", "int8 with float I/O", int8_float_io, calibrated=True))
    try:
        out = tmp_path / "out"
        report = convert(loaded, ConvertOptions(out=out, calib_data=None, calib_samples=8, kinds=("int8_fio",)))
        art = {a.name: a for a in report.artifacts}["int8_fio"]
        assert art.file == "model_int8_fio.tflite" and (out / art.file).is_file()
        assert art.input_dtype == "float32" and art.parity.reference == "fp32" and art.parity.cosine > 0.9
        assert json.loads((out / "report.json").read_text())["quantizer"] == "tflite"
        # a re-run without it drops the stale file: the kind's file is owned by conversion
        convert(loaded, ConvertOptions(out=out))
        assert not (out / art.file).exists()
    finally:
        kinds.KINDS.pop("int8_fio")
    with pytest.raises(EdgenetError, match="unknown"):
        convert(loaded, ConvertOptions(out=tmp_path / "x", kinds=("int8_fio",)))


def test_calibration_runs_once_per_graph(tiny, monkeypatch):
    """int8, the debugger's model and another quantizer reuse one calibrated model; a new sample set calibrates
    again."""
    from edgenet.quantization import calibrator

    _, graph, samples = tiny
    calls = []
    real = calibrator.calibrate
    monkeypatch.setattr(calibrator, "calibrate", lambda fp32, x, **kw: calls.append(len(x)) or real(fp32, x, **kw))
    q = get_quantizer("tflite")
    ctx = BuildContext(graph, samples, Int8Recipe("tflite"))
    build_artifact("int8", ctx)
    q.debug_model(ctx.calibrated())
    ctx.calibrated("percentile:99")  # another method narrows the same pass's ranges
    assert calls == [len(samples)]
    assert [s.stage for s in ctx.calibration.meter.stages] == ["calibration (fast)", "activation histograms"]
    Calibration(graph.fp32, samples[:6]).model(q)
    assert calls == [len(samples), 6]


def test_split_calibration_is_exact(tiny):
    """Min/max merge exactly: any split across worker processes gives the same bytes as one worker."""
    _, graph, samples = tiny
    one = calibrate(graph.fp32, samples, workers=1, calibrator="tflite")
    three = calibrate(graph.fp32, samples, workers=3, calibrator="tflite")
    assert one == three
    # without LiteRT, calibration runs in-process on TensorFlow's copy, whose float kernels record ranges up to
    # ~1e-5 (relative) apart: the int8 models agree on every top-1; a logit moves by up to ~10 output steps here
    q = get_quantizer("tflite")
    in_process = q.int8(calibrate(graph.fp32, samples, workers=0, calibrator="tflite"), "int8", ())
    workers = q.int8(one, "int8", ())
    paths = []
    for name, data in (("a", in_process), ("b", workers)):
        paths.append(graph.workdir / f"{name}.tflite")
        paths[-1].write_bytes(data)
    a, b = (TFLiteRunner(p)(samples) for p in paths)
    assert np.array_equal(a.argmax(1), b.argmax(1)) and np.abs(a - b).max() <= 0.1 * np.abs(a).max()


def test_merge_refuses_another_model(tiny, tmp_path):
    _, graph, samples = tiny
    a = calibrate(graph.fp32, samples[:2], workers=0, calibrator="tflite")
    other = load_model("lite0", num_classes=3, img_size=64)
    g2 = export_float(other.model, other.name, 64, tmp_path, samples[:2])
    b = calibrate(g2.fp32, samples[:2], workers=0, calibrator="tflite")
    if len(read_tflite(graph.fp32_path).tensors) == len(read_tflite(g2.fp32_path).tensors):
        pytest.skip("same tensor count: the structural check cannot tell them apart")
    with pytest.raises(ValueError, match="different models"):
        merge_ranges(bytearray(a), b)


def test_kill_9_leaves_no_worker_and_no_files_for_long(tiny, tmp_path, monkeypatch):
    """SIGKILL of the process calibrating: its workers die with it, and the next calibration removes its folder."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from edgenet.quantization.calibrator import WORKDIR_NAME

    _, graph, samples = tiny
    model, data = tmp_path / "m.tflite", tmp_path / "x.npy"
    model.write_bytes(graph.fp32)
    np.save(data, np.repeat(samples, 150, axis=0))  # 1,800 images: long enough to be killed mid-way
    code = (
        "import numpy as np, pathlib, sys; from edgenet.quantization.calibrator import calibrate; "
        f"calibrate(pathlib.Path({str(model)!r}).read_bytes(), np.load({str(data)!r}), workers=2, "
        "calibrator='tflite'); sys.exit(0)"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)

    def workers() -> list[int]:
        pids = []
        for d in Path("/proc").iterdir():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"_calibration_worker.py" in cmd and str(parent.pid).encode() in cmd:
                pids.append(int(d.name))
        return pids

    deadline = time.time() + 60
    while len(workers()) < 2 and time.time() < deadline and parent.poll() is None:
        time.sleep(0.2)
    assert len(workers()) == 2, "workers did not start"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while workers() and time.time() < deadline:
        time.sleep(0.2)
    assert not workers(), "calibration workers outlived their parent"
    stale = list(tmp_path.glob(f".{WORKDIR_NAME}.*.{parent.pid}.*.partial"))
    assert len(stale) == 1, "the killed run's folder stays until the next run"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    calibrate(graph.fp32, samples[:2], workers=1, calibrator="tflite")  # the next calibration
    assert not stale[0].exists() and not list(tmp_path.glob(f".{WORKDIR_NAME}.*"))
