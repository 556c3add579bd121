"""App-ready inputs (``convert --input raw``): the normalization inside the graph, metadata that says so, snippets
that feed what the metadata says, and pycoral's raw-pixel condition computed from the model itself."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tflite_builders as tb
from edgenet.converters.metadata import read_metadata
from test_bundle import PRE, converted_dir, kotlin_constants

from edgenet.artifacts.tflite_model import quantize, read_tflite
from edgenet.errors import EdgenetError
from edgenet.preprocess import Preprocess
from edgenet.workflows.bundle import bundle


def test_raw_preprocess_gives_pixels_and_round_trips():
    from PIL import Image

    px = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    im = Image.fromarray(px, "RGB")
    raw = Preprocess.from_dict(PRE | {"input": "raw"})
    norm = Preprocess.from_dict(PRE)
    assert norm.input == "normalized" and Preprocess.from_dict(raw.to_dict()) == raw
    np.testing.assert_array_equal(raw.to_array(im, "NHWC"), px.astype(np.float32))  # crop of 16×16 is identity
    back = (raw.to_array(im) / 255.0 - np.float32(PRE["mean"])[:, None, None]) / np.float32(PRE["std"])[:, None, None]
    np.testing.assert_allclose(back, norm.to_array(im), atol=1e-5)
    with pytest.raises(EdgenetError, match="input 'pixels': choose normalized or raw"):
        Preprocess(16, input="pixels")


def test_raw_input_network_equals_the_original_on_normalized_input():
    import torch
    from edgenet.converters.raw_input import with_raw_input

    from edgenet.loading import load_model

    torch.manual_seed(0)
    loaded = load_model("b0", num_classes=5, img_size=32)
    raw = with_raw_input(loaded)
    assert raw.preprocess.input == "raw" and raw.model.config == loaded.model.config
    assert not hasattr(loaded.model, "input_norm")  # the caller's network is untouched
    paths = {n for n, _ in raw.model.named_modules()} - {n for n, _ in loaded.model.named_modules()}
    assert paths == {"input_norm"}  # every layer keeps its name (quant-report, --keep-float)
    assert with_raw_input(raw) is raw  # already raw: unchanged
    px = torch.randint(0, 256, (2, 3, 32, 32)).float()
    mean = torch.tensor(loaded.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.preprocess.std).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(raw.model(px), loaded.model((px / 255 - mean) / std), atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------ snippets vs metadata
class _Num:
    """A number with the Kotlin/Swift methods the snippets call, so their expressions evaluate in Python."""

    def __init__(self, v: float) -> None:
        self.v = float(v)

    def _o(self, other):
        return other.v if isinstance(other, _Num) else other

    def __add__(self, o):
        return _Num(self.v + self._o(o))

    __radd__ = __add__

    def __sub__(self, o):
        return _Num(self.v - self._o(o))

    def __rsub__(self, o):
        return _Num(self._o(o) - self.v)

    def __truediv__(self, o):
        return _Num(self.v / self._o(o))

    def __rtruediv__(self, o):
        return _Num(self._o(o) / self.v)

    def __mul__(self, o):
        return _Num(self.v * self._o(o))

    __rmul__ = __mul__

    def toFloat(self):
        return self

    def roundToInt(self):  # Kotlin: ties towards +inf
        return _Num(math.floor(self.v + 0.5))

    def rounded(self):  # Swift: ties away from zero
        return _Num(math.copysign(math.floor(abs(self.v) + 0.5), self.v))

    def coerceIn(self, lo, hi):
        return _Num(min(max(self.v, lo), hi))

    def toByte(self):
        return _Num(((int(self.v) + 128) % 256) - 128)


def _kotlin_value(kt: str, pixel: int, ch: int) -> float:
    """What the Kotlin fillInput() writes into the input buffer for ``pixel`` in channel ``ch``."""
    consts = kotlin_constants(kt)
    x_expr = re.search(r"val x = (.+)", kt)[1]
    put = re.search(r"^\s*(input\.put\w*\(.+\))$", kt, re.M)[1]
    written = []

    class Sink:
        def put(self, b):
            written.append(int(b.v) & 0xFF)  # the byte's bits

        def putFloat(self, f):
            written.append(f.v)

    def py(expr: str) -> str:
        return re.sub(r"(\d+(?:\.\d+)?)f\b", r"\1", expr)

    scope = {k: float(v) if not isinstance(v, list) else v for k, v in consts.items() if k not in ("MODEL_FILE",)}
    scope |= {"rgb": [_Num(pixel)] * 3, "ch": ch, "input": Sink()}
    scope["x"] = eval(py(x_expr), scope)
    eval(py(put), scope)
    return written[0]


def _swift_value(swift: str, pixel: int, ch: int) -> float:
    """What the Swift inputData() appends for ``pixel`` in channel ``ch``."""
    consts = dict(re.findall(r"static let (\w+)(?:: \w+)? = ([-\d.e]+)\n", swift))
    arrays = {
        n: [float(v) for v in vals.split(",")] for n, vals in re.findall(r"static let (mean|std)[^=]*= \[(.*)\]", swift)
    }
    x_expr = re.search(r"let x = (.+)", swift)[1]
    append = re.search(r"^\s*(data\.append\(.+\))$|withUnsafeBytes", swift, re.M)

    class S:
        pass

    for k, v in consts.items():
        setattr(S, k, float(v))
    for k, v in arrays.items():
        setattr(S, k, v)
    written = []

    class Data:
        def append(self, v):
            written.append(int(v.v) & 0xFF)

    def clamp(lo, hi):
        return lambda clamping=None, bitPattern=None: _Num(
            min(max(clamping.v, lo), hi) if clamping is not None else bitPattern.v
        )

    scope = {
        "Self": S, "rgba": [_Num(pixel)] * 4, "p": 0, "ch": ch, "data": Data(), "Float": lambda v: _Num(v.v),
        "Int": lambda v: _Num(int(v.v)), "UInt8": clamp(0, 255), "Int8": clamp(-128, 127),
    }  # fmt: skip
    scope["x"] = eval(x_expr, scope)
    if append[1] is None:  # float input: the bytes of x itself
        return scope["x"].v
    eval(append[1].replace("clamping:", "clamping=").replace("bitPattern:", "bitPattern="), scope)
    return written[0]


def _metadata_value(meta: dict, tensor, pixel: int, ch: int) -> float:
    """The tensor value the metadata prescribes: (pixel − mean) / std, quantized with the input's own parameters."""
    norm = meta["inputs"][0]["normalization"]
    mean, std = norm["mean"], norm["std"]
    x = (pixel - mean[ch % len(mean)]) / std[ch % len(std)]
    if tensor.dtype == "float32":
        return x
    q = quantize(np.array([x], np.float32), tensor)[0]
    return int(q) & 0xFF


@pytest.mark.parametrize("kind", ["raw", "normalized"])
@pytest.mark.parametrize("io", ["uint8", "float"])
def test_snippets_feed_the_model_what_its_metadata_says(tmp_path, kind, io):
    src = converted_dir(tmp_path, pre=PRE | {"input": kind}, io=io)
    out = tmp_path / "app"
    bundle(src / "model_int8.tflite", out)
    meta = read_metadata(out / "model_int8.tflite")
    tensor = read_tflite(out / "model_int8.tflite").input_details[0]
    kt = (out / "EdgenetClassifier.kt").read_text()
    swift = (out / "EdgenetClassifier.swift").read_text()
    norm = meta["inputs"][0]["normalization"]
    if kind == "raw":
        assert norm == {"mean": [0.0], "std": [1.0]} and "MEAN" not in kt and "Self.mean" not in swift
        assert meta["inputs"][0]["stats"] == {"min": [0.0], "max": [255.0]}
    else:
        np.testing.assert_allclose(norm["mean"], np.float32(PRE["mean"]) * 255, rtol=1e-6)
    for pixel in (0, 1, 37, 128, 200, 254, 255):
        for ch in range(3):
            want = _metadata_value(meta, tensor, pixel, ch)
            got_kt, got_swift = _kotlin_value(kt, pixel, ch), _swift_value(swift, pixel, ch)
            if io == "float":
                assert got_kt == pytest.approx(want, rel=1e-5, abs=1e-5), (pixel, ch)
                assert got_swift == pytest.approx(want, rel=1e-5, abs=1e-5), (pixel, ch)
            else:  # rounding ties may differ (half-up, half-away, numpy's half-even): one step at most
                assert abs(got_kt - want) <= 1 and abs(got_swift - want) <= 1, (pixel, ch, got_kt, got_swift, want)


def test_bundle_warns_when_apps_would_feed_a_normalized_model_wrongly(tmp_path):
    src = converted_dir(tmp_path, pre=PRE)
    r = bundle(src / "model_int8.tflite", tmp_path / "app")
    assert any("MediaPipe" in w and "--input raw" in w for w in r.warnings)
    card = (tmp_path / "app" / "MODEL_CARD.md").read_text()
    assert "Scale to [0, 1]" in card
    src = converted_dir(tmp_path / "raw", pre=PRE | {"input": "raw"})
    r = bundle(src / "model_int8.tflite", tmp_path / "app2")
    assert not r.warnings and "No normalization" in (tmp_path / "app2" / "MODEL_CARD.md").read_text()


# ------------------------------------------------------------------------------------ real conversions
def pycoral_feeds_raw_pixels(bundled: Path) -> bool:
    """pycoral classify_image.py's test, from the model's input quantization and its metadata, every channel."""
    t = read_tflite(bundled).input_details[0]
    norm = read_metadata(bundled)["inputs"][0]["normalization"]
    scale, zp = t.scale[0], t.zero_point[0]
    return all(abs(scale * s - 1) < 1e-5 and abs(m - zp) < 1e-5 for m, s in zip(norm["mean"], norm["std"], strict=True))


@pytest.mark.slow
def test_raw_input_conversion_quantizes_pixels_exactly(tmp_path, photos_dir):
    """uint8: scale 1 / zero point 0 (the default for uint8 I/O); int8: scale 1 / −128; the normalized form stays
    available and fails pycoral's test; eval --model-file reads the input convention from report.json."""
    import torch
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.artifacts.scoring import evaluate_artifact
    from edgenet.loading import load_model

    results = {}
    for name, io, kind in (("u8raw", "uint8", None), ("i8raw", "int8", "raw"), ("u8norm", "uint8", "normalized")):
        torch.manual_seed(0)
        loaded = load_model("b0", num_classes=4, img_size=32)
        opts = ConvertOptions(
            out=tmp_path / name, int8=True, int8_io=io, input=kind, calib_data=photos_dir, calib_samples=8,
            parity_samples=4,
        )  # fmt: skip
        report = convert(loaded, opts)
        t = read_tflite(tmp_path / name / "model_int8.tflite").input_details[0]
        results[name] = (report, t)
        bundle(tmp_path / name / "model_int8.tflite", tmp_path / name / "app", labels_path=_labels(tmp_path, 4))
    (r, t) = results["u8raw"]
    assert r.preprocess["input"] == "raw" and (t.dtype, t.scale, t.zero_point) == ("uint8", (1.0,), (0,))
    assert json.loads((tmp_path / "u8raw" / "report.json").read_text())["preprocess"]["input"] == "raw"
    assert read_tflite(tmp_path / "u8raw" / "model_fp32.tflite").ops[0].opcode == "MUL"  # the normalization
    (r, t) = results["i8raw"]
    assert (t.dtype, t.scale, t.zero_point) == ("int8", (1.0,), (-128,))
    (r, t) = results["u8norm"]
    assert r.preprocess["input"] == "normalized" and t.scale[0] < 0.1
    assert pycoral_feeds_raw_pixels(tmp_path / "u8raw" / "app" / "model_int8.tflite")
    assert not pycoral_feeds_raw_pixels(tmp_path / "u8norm" / "app" / "model_int8.tflite")
    # the same photos through eval --model-file: each model is fed its own convention, so both agree with fp32
    data = tmp_path / "eval"
    from edgenet.imagefiles import list_image_files

    for i, f in enumerate(list_image_files(photos_dir).files[:8]):
        (data / f"c{i % 4}").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, data / f"c{i % 4}" / f.name)
    fp32 = {n: evaluate_artifact(tmp_path / n / "model_fp32.tflite", data) for n in ("u8raw", "u8norm")}
    assert fp32["u8raw"].n == 8 and fp32["u8raw"].top1 == fp32["u8norm"].top1


def _labels(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "labels.txt"
    p.write_text("\n".join(f"class{i}" for i in range(n)) + "\n")
    return p


def test_bad_input_option(tmp_path):
    from click.testing import CliRunner

    from edgenet.cli.main import cli

    r = CliRunner().invoke(cli, ["convert", "--model", "b0", "--img-size", "32", "--input", "pixels"])
    assert r.exit_code == 2 and "'pixels' is not one of 'raw', 'normalized'" in r.output
    assert tb  # the builders module loaded (it builds the tiny models in the background)


def test_pin_input_range_needs_a_calibrated_model():
    from edgenet.quantization.calibrator import pin_input_range

    with pytest.raises(ValueError, match="records no input range"):
        pin_input_range(tb.tiny("float").read_bytes(), 0.0, 255.0)
