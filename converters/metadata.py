"""TFLite Metadata for an image classifier: written and read against the official metadata schema.

Why not the official writer: ``tflite-support`` ships no wheels for Python >= 3.10, and mediapipe's metadata writers
pin numpy<2 / protobuf 4, which conflict with tensorflow 2.21. The format itself is small and stable, so edgenet
writes it with the ``flatbuffers`` runtime against the published schema and mirrors what the official
``MetadataPopulator`` does:

* the metadata flatbuffer (file identifier ``M001``) goes into a model buffer referenced by a ``Model.metadata``
  entry named ``TFLITE_METADATA``; an existing entry is overwritten in place, never duplicated;
* associated files (``labels.txt``) are appended to the model as an uncompressed zip archive, as ``zipfile``
  in append mode produces it (with a fixed timestamp, so a bundle is byte-for-byte reproducible); a previous
  archive is dropped, so re-bundling replaces the labels;
* the fields written are those of ``metadata_writers.image_classifier`` (input "image": RGB ImageProperties,
  NormalizationOptions and Stats; output with FeatureProperties, Stats and the labels as TENSOR_AXIS_LABELS);
* ``min_parser_version`` is "1.0.0": none of the fields used was added after schema 1.0.0 (the official populator
  computes the same value for these fields).

Schema provenance (vendored in ``converters/_vendor``): ``metadata_schema.fbs`` is
``tensorflow_lite_support/metadata/metadata_schema.fbs`` (schema 1.5.0, sha256
2d3386ba124690ba1195bfc1d51ac814843bd675a7c845afab7c001c7891449e) from the tflite-support 0.4.4 wheel;
``metadata_schema_generated.py`` was generated from it with Debian's flatc 2.0.8:
``flatc --python --gen-object-api --gen-onefile -o OUT converters/_vendor/metadata_schema.fbs``
(tests/converters/test_metadata.py re-runs that command when flatc is installed and compares).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
from edgenet.converters._vendor import metadata_schema_generated as md

from edgenet.artifacts.sidecar import LABELS_FILE
from edgenet.artifacts.tflite_model import read_tflite, tflite_schema
from edgenet.atomic import write_bytes_atomic
from edgenet.errors import EdgenetError

METADATA_NAME = "TFLITE_METADATA"
MIN_PARSER_VERSION = "1.0.0"
LABELS_DESCRIPTION = "Labels for categories that the model can recognize."  # the official writer's wording
_BUFFER_ALIGNMENT = 16  # weights 16-byte aligned, so runtimes can use them in place (mmap) with any SIMD load


@dataclass
class ClassifierMetadata:
    """What an app needs to feed the model and read its answer; mean/std on the [0, 1] pixel scale."""

    name: str
    description: str
    version: str
    author: str
    license: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: list[str]
    output_is_probability: bool = False
    input_name: str = "image"
    output_name: str = "logits"
    input: str = "normalized"  # "raw": the graph normalizes; the input takes RGB 0–255 (edgenet.converters.raw_input)
    extra: dict = field(default_factory=dict)  # nothing written; callers may carry notes here


def _tensor_md(name: str, description: str, content, content_type: int, mn, mx, units=None, files=None):
    t = md.TensorMetadataT()
    t.name, t.description = name, description
    t.content = md.ContentT()
    t.content.contentPropertiesType, t.content.contentProperties = content_type, content
    t.stats = md.StatsT()
    t.stats.min, t.stats.max = mn, mx
    t.processUnits, t.associatedFiles = units, files
    return t


def build_metadata(info: ClassifierMetadata, input_dtype: str, output_dtype: str) -> bytes:
    """The ``ModelMetadata`` flatbuffer (identifier M001) for an image classifier with one input and one output."""
    if info.input == "raw":  # one value, not three: MediaPipe refuses per-channel normalization of float inputs
        mean255, std255 = [0.0], [1.0]
    else:
        mean255 = [float(m) * 255.0 for m in info.mean]
        std255 = [float(s) * 255.0 for s in info.std]
    image = md.ImagePropertiesT()
    image.colorSpace = md.ColorSpaceType.RGB
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT()
    norm.options.mean, norm.options.std = mean255, std255
    if input_dtype == "uint8" or info.input == "raw":  # the official writer's stats: the raw value range, or the
        in_min, in_max = [0.0], [255.0]  # normalized pixel range
    elif input_dtype == "float32":
        in_min = [(0.0 - m) / s for m, s in zip(mean255, std255)]
        in_max = [(255.0 - m) / s for m, s in zip(mean255, std255)]
    else:
        in_min = in_max = None
    resolution_hint = "RGB, resized and center-cropped, normalized with mean/std"
    if info.input == "raw":
        resolution_hint = "RGB values 0-255, resized and center-cropped; the model normalizes them itself"
    inp = _tensor_md(
        info.input_name,
        f"Input image to be classified ({resolution_hint}; integer inputs are then quantized).",
        image,
        md.ContentProperties.ImageProperties,
        in_min,
        in_max,
        units=[norm],
    )
    labels = md.AssociatedFileT()
    labels.name, labels.description, labels.type = (
        LABELS_FILE,
        LABELS_DESCRIPTION,
        md.AssociatedFileType.TENSOR_AXIS_LABELS,
    )
    if info.output_is_probability:
        out_desc, out_min, out_max = "Probabilities of the labels respectively.", [0.0], [1.0]
    else:
        out_desc = "Class scores (logits, before softmax) of the labels respectively."
        out_min = out_max = [0.0] if output_dtype == "uint8" else None
        if output_dtype == "uint8":
            out_max = [255.0]
    out = _tensor_md(
        info.output_name,
        out_desc,
        md.FeaturePropertiesT(),
        md.ContentProperties.FeatureProperties,
        out_min,
        out_max,
        files=[labels],
    )
    sub = md.SubGraphMetadataT()
    sub.inputTensorMetadata, sub.outputTensorMetadata = [inp], [out]
    model = md.ModelMetadataT()
    model.name, model.description, model.version = info.name, info.description, info.version
    model.author, model.license = info.author, info.license
    model.subgraphMetadata = [sub]
    model.minParserVersion = MIN_PARSER_VERSION
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), b"M001")
    return bytes(b.Output())


def _aligned_buffer_type(schema):
    class AlignedBufferT(schema.BufferT):
        """Packs weight data 16-byte aligned (the generated object-API Pack aligns uint8 vectors to 1 byte)."""

        def Pack(self, builder):
            data = None
            if self.data is not None and len(self.data):
                payload = np.ascontiguousarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(payload), _BUFFER_ALIGNMENT)
                builder.head -= len(payload)
                builder.Bytes[builder.head : builder.head + len(payload)] = payload
                builder.vectorNumElems = len(payload)
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    return AlignedBufferT


def populate(model_bytes: bytes, metadata: bytes, files: dict[str, bytes]) -> bytes:
    """The model with ``metadata`` as its TFLITE_METADATA entry and ``files`` appended as an uncompressed zip."""
    schema = tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    if any(b.offset > 1 for b in model.buffers or []):
        raise EdgenetError("model stores its weights outside the flatbuffer (> 2 GB models): not supported by bundle")
    aligned = _aligned_buffer_type(schema)
    model.buffers = [aligned(b.data, b.offset, b.size) for b in model.buffers or []]
    entry = schema.BufferT()
    entry.data = np.frombuffer(metadata, dtype=np.uint8)
    kept, found = [], False
    for meta in model.metadata or []:
        if meta.name.decode() != METADATA_NAME:
            kept.append(meta)
        elif not found:  # replace in place
            model.buffers[meta.buffer] = aligned(entry.data, 0, 0)
            kept.append(meta)
            found = True
        else:  # a duplicate left by another tool: drop it and empty its buffer
            model.buffers[meta.buffer] = aligned(None, 0, 0)
    if not found:
        model.buffers.append(aligned(entry.data, 0, 0))
        meta = schema.MetadataT()
        meta.name, meta.buffer = METADATA_NAME, len(model.buffers) - 1
        kept.append(meta)
    model.metadata = kept
    b = flatbuffers.Builder(len(model_bytes) + len(metadata) + 1024)
    b.Finish(model.Pack(b), b"TFL3")
    out = io.BytesIO(bytes(b.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: the same bundle, the same bytes
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def write_metadata(src: Path, dest: Path, info: ClassifierMetadata) -> Path:
    """Write ``src`` with classifier metadata and the labels file to ``dest`` (atomically; ``src`` is untouched)."""
    model = read_tflite(src)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EdgenetError(
            f"{src}: {len(model.inputs)} inputs / {len(model.outputs)} outputs; bundle handles image classifiers "
            "with one image input and one class-score output"
        )
    n_classes = int(np.prod(model.output_details[0].shape))
    if len(info.labels) != n_classes:
        raise EdgenetError(f"{len(info.labels)} labels but {src} outputs {n_classes} classes; pass matching labels")
    meta = build_metadata(info, model.input_details[0].dtype, model.output_details[0].dtype)
    labels = ("\n".join(info.labels) + "\n").encode()
    write_bytes_atomic(dest, populate(src.read_bytes(), meta, {LABELS_FILE: labels}))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(dest, 0o666 & ~umask)  # a model for an app: readable like any file written with open()
    return dest


def read_metadata(path: Path) -> dict | None:
    """The classifier metadata of ``path`` as plain data (None when it has none), plus the packed file names."""
    model = read_tflite(path)
    data = Path(path).read_bytes()
    root = tflite_schema().Model.GetRootAsModel(data, 0)
    buf = None
    for i in range(root.MetadataLength()):
        if (root.Metadata(i).Name() or b"").decode() == METADATA_NAME:
            buf = root.Buffers(root.Metadata(i).Buffer()).DataAsNumpy().tobytes()
    if buf is None:
        return None
    if not md.ModelMetadata.ModelMetadataBufferHasIdentifier(buf, 0):
        raise EdgenetError(f"{path}: TFLITE_METADATA entry is not a metadata flatbuffer (no M001 identifier)")
    meta = md.ModelMetadataT.InitFromObj(md.ModelMetadata.GetRootAs(buf, 0))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            packed = {n: zf.read(n).decode(errors="replace") for n in zf.namelist()}
    except zipfile.BadZipFile:
        packed = {}
    sub = meta.subgraphMetadata[0]

    def tensor(t) -> dict:
        d = {"name": _s(t.name), "description": _s(t.description), "stats": None, "normalization": None}
        if t.stats is not None:
            d["stats"] = {"min": _floats(t.stats.min), "max": _floats(t.stats.max)}
        for unit in t.processUnits or []:
            if unit.optionsType == md.ProcessUnitOptions.NormalizationOptions:
                d["normalization"] = {"mean": _floats(unit.options.mean), "std": _floats(unit.options.std)}
        d["associated_files"] = [
            {"name": _s(f.name), "description": _s(f.description), "type": f.type} for f in t.associatedFiles or []
        ]
        return d

    return {
        "name": _s(meta.name),
        "description": _s(meta.description),
        "version": _s(meta.version),
        "author": _s(meta.author),
        "license": _s(meta.license),
        "min_parser_version": _s(meta.minParserVersion),
        "inputs": [tensor(t) for t in sub.inputTensorMetadata or []],
        "outputs": [tensor(t) for t in sub.outputTensorMetadata or []],
        "packed_files": packed,
        "metadata_entries": [n for n in model.metadata_names if n == METADATA_NAME],
    }


def _s(x) -> str | None:
    return x.decode() if isinstance(x, bytes) else x


def _floats(x) -> list[float] | None:
    return None if x is None else [float(v) for v in x]
