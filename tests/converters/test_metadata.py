"""TFLite Metadata: written by edgenet.converters.metadata, read back by readers that share no code with the writer.

* the metadata flatbuffer: ``flatc --json`` decodes it against the published metadata_schema.fbs;
* the model part (Model.metadata entries, buffers): the ``tflite`` PyPI package's own generated reader;
* the labels: Python's ``zipfile`` on the model file (the associated-file zip appended to it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tflite
import tflite_builders as tb
from edgenet.converters.metadata import ClassifierMetadata, read_metadata, write_metadata
from helpers import missing_tool

from edgenet.errors import EdgenetError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "converters" / "_vendor" / "metadata_schema.fbs"
FLATC = shutil.which("flatc")
needs_flatc = pytest.mark.usefixtures("flatc_installed")


@pytest.fixture
def flatc_installed() -> None:
    if FLATC is None:
        missing_tool("flatc not installed (apt-get install flatbuffers-compiler)")


MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LABELS = ["cat", "dog", "ship", "frog", "horse"]


def info(**kw) -> ClassifierMetadata:
    base = dict(
        name="tiny (model_int8)",
        description="a tiny classifier",
        version="abc123",
        author="edgenet tests",
        license="Apache-2.0",
        mean=MEAN,
        std=STD,
        labels=LABELS,
    )
    return ClassifierMetadata(**{**base, **kw})


def entries(path: Path) -> list[tuple[str, bytes]]:
    """(name, buffer bytes) of every Model.metadata entry, read with the `tflite` package."""
    data = path.read_bytes()
    m = tflite.Model.GetRootAsModel(data, 0)
    out = []
    for i in range(m.MetadataLength()):
        e = m.Metadata(i)
        out.append((e.Name().decode(), m.Buffers(e.Buffer()).DataAsNumpy().tobytes()))
    return out


def flatc_json(meta: bytes, tmp: Path) -> dict:
    (tmp / "meta.bin").write_bytes(meta)
    subprocess.run(
        [FLATC, "--json", "--strict-json", "--raw-binary", "-o", str(tmp), str(SCHEMA), "--", str(tmp / "meta.bin")],
        check=True,
        capture_output=True,
    )
    return json.loads((tmp / "meta.json").read_text())


def run(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@needs_flatc
@pytest.mark.parametrize("io", ["uint8", "none"])
def test_every_field_read_back_independently(tmp_path, io):
    src = tb.tiny(None if io == "none" else io)
    dest = write_metadata(src, tmp_path / "model.tflite", info())
    meta = [b for name, b in entries(dest) if name == "TFLITE_METADATA"]
    assert len(meta) == 1 and meta[0][4:8] == b"M001"
    d = flatc_json(meta[0], tmp_path)
    assert (d["name"], d["description"], d["version"]) == ("tiny (model_int8)", "a tiny classifier", "abc123")
    assert (d["author"], d["license"], d["min_parser_version"]) == ("edgenet tests", "Apache-2.0", "1.0.0")
    (sub,) = d["subgraph_metadata"]
    (inp,) = sub["input_tensor_metadata"]
    assert inp["name"] == "image" and "Input image" in inp["description"]
    assert inp["content"]["content_properties_type"] == "ImageProperties"
    assert inp["content"]["content_properties"] == {"color_space": "RGB"}
    (norm,) = inp["process_units"]
    assert norm["options_type"] == "NormalizationOptions"
    np.testing.assert_allclose(norm["options"]["mean"], [m * 255 for m in MEAN], rtol=1e-6)
    np.testing.assert_allclose(norm["options"]["std"], [s * 255 for s in STD], rtol=1e-6)
    if io == "uint8":  # the official writer's stats for an integer image input: its raw range
        assert inp["stats"] == {"max": [255.0], "min": [0.0]}
    else:  # for a float input: the normalized range of pixel values 0..255
        np.testing.assert_allclose(inp["stats"]["min"], [-m / s for m, s in zip(MEAN, STD)], rtol=1e-5)
        np.testing.assert_allclose(inp["stats"]["max"], [(1 - m) / s for m, s in zip(MEAN, STD)], rtol=1e-5)
    (out,) = sub["output_tensor_metadata"]
    assert out["name"] == "logits" and "logits" in out["description"]
    assert out["content"]["content_properties_type"] == "FeatureProperties"
    assert out["associated_files"] == [
        {
            "name": "labels.txt",
            "description": "Labels for categories that the model can recognize.",
            "type": "TENSOR_AXIS_LABELS",
        }
    ]
    with zipfile.ZipFile(dest) as zf:
        assert zf.namelist() == ["labels.txt"]
        assert zf.getinfo("labels.txt").compress_type == zipfile.ZIP_STORED  # the metadata extractor maps it
        assert zf.read("labels.txt").decode().splitlines() == LABELS
    ours = read_metadata(dest)
    assert ours["inputs"][0]["normalization"]["mean"] == pytest.approx(norm["options"]["mean"], rel=1e-6)
    assert ours["packed_files"]["labels.txt"].split() == LABELS


@pytest.mark.parametrize("io", ["uint8", "none"])
def test_bundled_model_gives_identical_outputs(tmp_path, io):
    src = tb.tiny(None if io == "none" else io)
    dest = write_metadata(src, tmp_path / "model.tflite", info())
    rng = np.random.default_rng(0)
    for _ in range(3):
        if io == "uint8":
            x = rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
        else:
            x = rng.standard_normal((1, 16, 16, 3)).astype(np.float32)
        np.testing.assert_array_equal(run(src, x), run(dest, x))


def data_offsets(path: Path) -> list[int]:
    """File offset of every non-empty Buffer.data vector (field 0 of the Buffer table)."""
    m = tflite.Model.GetRootAsModel(bytearray(path.read_bytes()), 0)
    bufs = [m.Buffers(i) for i in range(m.BuffersLength())]
    return [b._tab.Vector(b._tab.Offset(4)) for b in bufs if b.DataLength() > 0]


def test_other_entries_kept_and_weights_stay_16_byte_aligned(tmp_path):
    src = tb.tiny("uint8")
    dest = write_metadata(src, tmp_path / "model.tflite", info())
    before, after = entries(src), entries(dest)
    assert after[: len(before)] == before  # min_runtime_version, CONVERSION_METADATA: unchanged
    # the generated object-API Pack would align weight vectors to 1 byte; ours puts every one on 16 bytes
    assert all(off % 16 == 0 for off in data_offsets(dest))


def test_existing_metadata_is_replaced_not_duplicated(tmp_path):
    v2 = info(labels=["a", "b", "c", "d", "e"], version="v2")
    first = write_metadata(tb.tiny("uint8"), tmp_path / "a.tflite", info())
    second = write_metadata(first, tmp_path / "b.tflite", v2)
    names = [n for n, _ in entries(second)]
    assert names.count("TFLITE_METADATA") == 1
    direct = write_metadata(tb.tiny("uint8"), tmp_path / "direct.tflite", v2)
    assert second.read_bytes() == direct.read_bytes()  # nothing of the first bundle is left behind
    with zipfile.ZipFile(second) as zf:
        assert zf.namelist() == ["labels.txt"] and zf.read("labels.txt") == b"a\nb\nc\nd\ne\n"
    assert read_metadata(second)["version"] == "v2"
    third = write_metadata(second, tmp_path / "c.tflite", v2)
    assert third.read_bytes() == second.read_bytes()  # idempotent


def test_written_with_the_usual_permissions(tmp_path):
    dest = write_metadata(tb.tiny("uint8"), tmp_path / "m.tflite", info())
    umask = os.umask(0)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~umask


def test_label_count_must_match_the_model(tmp_path):
    with pytest.raises(EdgenetError, match=r"3 labels but .* outputs 5 classes"):
        write_metadata(tb.tiny("uint8"), tmp_path / "m.tflite", info(labels=["a", "b", "c"]))
    assert not (tmp_path / "m.tflite").exists()


def test_not_a_tflite_file(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"PK\x03\x04 definitely a zip, not a model")
    with pytest.raises(EdgenetError, match="not a TFLite model"):
        write_metadata(bad, tmp_path / "out.tflite", info())


def test_model_without_metadata_reads_none():
    assert read_metadata(tb.tiny("uint8")) is None


@needs_flatc
def test_generated_schema_module_matches_flatc(tmp_path):
    """converters/_vendor/metadata_schema_generated.py is exactly what the documented flatc command produces."""
    version = subprocess.run([FLATC, "--version"], capture_output=True, text=True).stdout
    if "2.0.8" not in version:
        pytest.skip(f"generated with flatc 2.0.8; this is {version.strip()}")
    subprocess.run(
        [FLATC, "--python", "--gen-object-api", "--gen-onefile", "-o", str(tmp_path), str(SCHEMA)],
        check=True,
        capture_output=True,
    )
    generated = (tmp_path / "metadata_schema_generated.py").read_text()
    assert generated == (ROOT / "converters" / "_vendor" / "metadata_schema_generated.py").read_text()
