"""``edgenet bundle``: a .tflite ready for an app — metadata inside, labels, a model card and integration snippets.

Preprocessing and class names come from the edgenet checkpoint, or from the ``report.json`` / ``labels.txt`` that
``edgenet convert`` wrote next to the model: the app must feed exactly what training saw (resize, crop, mean/std,
then the input tensor's quantization), and the snippets are generated from those numbers and the model's own
input/output types rather than written by hand.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from edgenet import __version__
from edgenet.artifacts.sidecar import REPORT_FILE, labels_beside, read_labels, read_report, report_preprocess
from edgenet.artifacts.tflite_model import TensorInfo, TFLiteModel, read_tflite
from edgenet.atomic import publish_dir, staging_dir
from edgenet.converters.metadata import LABELS_FILE, ClassifierMetadata, read_metadata, write_metadata
from edgenet.errors import EdgenetError
from edgenet.escape import comment_text, has_line_break, kotlin_string, markdown_text
from edgenet.preprocess import Preprocess

PLATFORMS = ("android", "ios", "both")
RAW_STEPS = "RGB values 0-255 as they are (the model normalizes them itself)"
KOTLIN_FILE, SWIFT_FILE, CARD_FILE = "EdgenetClassifier.kt", "EdgenetClassifier.swift", "MODEL_CARD.md"


@dataclass
class BundleSource:
    """Where the model's preprocessing, classes and name came from."""

    preprocess: Preprocess
    labels: list[str]
    model_name: str
    preprocess_from: str
    labels_from: str
    report: dict = field(default_factory=dict)  # report.json next to the model, when present
    metrics: dict = field(default_factory=dict)  # the checkpoint's metrics, when present


@dataclass
class BundleReport:
    model: str
    out: str
    platform: str
    files: list[str]
    input: dict
    output: dict
    labels: int
    preprocess: dict
    preprocess_from: str
    labels_from: str
    metadata: dict
    db_rows: int | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_source(model_path: Path, checkpoint: Path | None, labels_path: Path | None) -> BundleSource:
    """Find preprocessing and labels: --checkpoint, else report.json/labels.txt beside the model; --labels wins."""
    report_path = model_path.parent / REPORT_FILE
    report = read_report(model_path)
    labels, labels_from, metrics = None, "", {}
    if checkpoint is not None:
        from edgenet.checkpoint import load_checkpoint

        ckpt = load_checkpoint(checkpoint)
        pre, pre_from, name, metrics = ckpt.preprocess, f"checkpoint:{checkpoint}", ckpt.model_name, ckpt.metrics
        beside = report_preprocess(report, model_path)
        if beside is not None and beside.input != pre.input:  # the checkpoint cannot know how it was converted
            pre = replace(pre, input=beside.input)
        if ckpt.classes:
            labels, labels_from = list(ckpt.classes), f"checkpoint:{checkpoint}"
    elif (pre := report_preprocess(report, model_path)) is not None:
        pre_from, name = str(report_path), str(report.get("model") or model_path.stem)
        if report.get("classes"):
            labels, labels_from = list(report["classes"]), str(report_path)
    else:
        raise EdgenetError(
            f"{model_path}: no preprocessing found; pass --checkpoint FILE, or keep the report.json that "
            "edgenet convert wrote next to the model"
        )
    if labels_path is not None:
        labels, labels_from = read_labels(labels_path), str(labels_path)
    elif labels is None and (beside := labels_beside(model_path)) is not None:
        labels, labels_from = beside, str(model_path.parent / LABELS_FILE)
    if labels is None:
        raise EdgenetError(f"{model_path}: no class names; pass --labels labels.txt (one per line) or --checkpoint")
    broken = next((i for i, label in enumerate(labels) if has_line_break(label)), None)
    if broken is not None:
        raise EdgenetError(
            f"{labels_from}: class {broken} ({labels[broken]!r}) holds a line break, but labels.txt and the app read "
            "one name per line; rename that class (pass --labels FILE with one name per line)"
        )
    return BundleSource(pre, labels, name, pre_from, labels_from, report, metrics)


def _io(t: TensorInfo) -> dict:
    return {
        "name": t.name,
        "dtype": t.dtype,
        "shape": list(t.shape),
        "scale": t.scale[0] if t.scale else None,
        "zero_point": t.zero_point[0] if t.zero_point else None,
    }


def _check_model(model: TFLiteModel, src: BundleSource) -> tuple[dict, dict]:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EdgenetError(
            f"{model.path}: {len(model.inputs)} inputs and {len(model.outputs)} outputs; bundle handles image "
            "classifiers with one image input and one class-score output"
        )
    inp, out = model.input_details[0], model.output_details[0]
    if len(inp.shape) != 4 or inp.shape[0] != 1 or inp.shape[3] != 3:
        raise EdgenetError(f"{model.path}: input {list(inp.shape)} is not an NHWC RGB image [1, H, W, 3]")
    if inp.shape[1] != src.preprocess.resolution or inp.shape[2] != src.preprocess.resolution:
        raise EdgenetError(
            f"{model.path}: input is {inp.shape[1]}x{inp.shape[2]} but {src.preprocess_from} says resolution "
            f"{src.preprocess.resolution}; pass the checkpoint/report that belongs to this model"
        )
    n = out.shape[-1] if out.shape else 1
    if len(src.labels) != n:
        raise EdgenetError(
            f"{len(src.labels)} labels in {src.labels_from} but {model.path} outputs {n} classes; "
            "pass the labels this model was trained with"
        )
    for t in (inp, out):
        if t.dtype not in ("float32", "uint8", "int8"):
            raise EdgenetError(f"{model.path}: {t.dtype} tensor '{t.name}'; bundle supports float32, uint8 and int8")
    return _io(inp), _io(out)


def _db_rows(db: Path, sha256: str) -> list[dict]:
    """Benchmark rows of this exact model file (keyed by its sha256) from the results database."""
    if not db.is_file():
        raise EdgenetError(f"--db {db}: not found; run edgenet bench --db {db} first")
    try:
        from edgenet.device_bench.db import ResultsDB
    except ImportError as e:  # pragma: no cover - the benchmark package is part of edgenet
        raise EdgenetError(f"--db {db}: the results-database reader is not available ({e})") from None
    with ResultsDB(db) as results:
        return [r for r in results.rows() if r.get("model_sha256") == sha256]


def bundle(
    model_path: Path,
    out: Path,
    checkpoint: Path | None = None,
    labels_path: Path | None = None,
    platform: str = "both",
    db: Path | None = None,
    author: str = "edgenet",
    license_: str = "",
) -> BundleReport:
    """Write ``out/<model>.tflite`` (metadata + labels inside), labels.txt, MODEL_CARD.md and app snippets."""
    start = time.perf_counter()
    model_path, out = Path(model_path), Path(out)
    if platform not in PLATFORMS:
        raise EdgenetError(f"--platform {platform}: choose one of {', '.join(PLATFORMS)}")
    model = read_tflite(model_path)
    src = resolve_source(model_path, checkpoint, labels_path)
    inp, outp = _check_model(model, src)
    data = model_path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    rows = _db_rows(db, sha256) if db is not None else None
    probability = bool(model.ops) and model.ops[-1].opcode == "SOFTMAX"
    res = src.preprocess.resolution
    info = ClassifierMetadata(
        name=f"{src.model_name} ({model_path.stem})",
        description=(
            f"{src.model_name} image classifier: {len(src.labels)} classes, {res}x{res} RGB {inp['dtype']} input, "
            f"{'probabilities' if probability else 'logits'} out. Converted and bundled by edgenet {__version__}."
        ),
        version=sha256[:12],
        author=author,
        license=license_,
        mean=tuple(src.preprocess.mean),
        std=tuple(src.preprocess.std),
        labels=src.labels,
        output_is_probability=probability,
        output_name="probability" if probability else "logits",
        input=src.preprocess.input,
    )
    warnings = client_warnings(inp["dtype"], src.preprocess)
    if model.metadata_names.count("TFLITE_METADATA"):
        warnings.append(f"{model_path.name} already had TFLite metadata: replaced")
    with staging_dir(out) as stage:
        bundled = stage / model_path.name
        write_metadata(model_path, bundled, info)
        (stage / LABELS_FILE).write_text("\n".join(src.labels) + "\n", encoding="utf-8")
        ctx = _snippet_context(model_path.name, src, inp, outp, probability)
        if platform in ("android", "both"):
            (stage / KOTLIN_FILE).write_text(kotlin_snippet(ctx), encoding="utf-8")
        if platform in ("ios", "both"):
            (stage / SWIFT_FILE).write_text(swift_snippet(ctx), encoding="utf-8")
        meta = read_metadata(bundled)
        card = model_card(model, bundled, sha256, src, inp, outp, rows, db, probability)
        (stage / CARD_FILE).write_text(card, encoding="utf-8")
        files = [p.name for p in sorted(stage.iterdir())]
        publish_dir(stage, out)
    return BundleReport(
        model=str(model_path),
        out=str(out),
        platform=platform,
        files=files,
        input=inp,
        output=outp,
        labels=len(src.labels),
        preprocess=src.preprocess.to_dict(),
        preprocess_from=src.preprocess_from,
        labels_from=src.labels_from,
        metadata={k: v for k, v in (meta or {}).items() if k != "packed_files"},
        db_rows=None if rows is None else len(rows),
        warnings=warnings,
        seconds=time.perf_counter() - start,
    )


def client_warnings(input_dtype: str, pre: Preprocess) -> list[str]:
    """What the app runtimes will get wrong with a normalized-input model (a raw-input one suits them all)."""
    if pre.input == "raw":
        return []
    fix = "re-convert with `edgenet convert ... --input raw` (the normalization then runs inside the model)"
    if input_dtype != "float32":
        return [
            f"{input_dtype} input takes quantized *normalized* values: MediaPipe's ImageClassifier and the TFLite "
            "Task Library feed raw camera pixels to integer inputs (ignoring the metadata's normalization), and "
            f"pycoral re-normalizes every frame on the CPU; {fix}"
        ]
    if len(set(pre.mean)) > 1 or len(set(pre.std)) > 1:
        return [f"per-channel mean/std: MediaPipe refuses this model (per-channel normalization unsupported); {fix}"]
    return []


# ---------------------------------------------------------------------------------------------- model card
def _fmt_io(d: dict) -> str:
    q = f", scale {d['scale']:.6g}, zero point {d['zero_point']}" if d["scale"] is not None else ""
    return f"{d['dtype']} {d['shape']}{q}"


def model_card(
    model: TFLiteModel,
    bundled: Path,
    sha256: str,
    src: BundleSource,
    inp: dict,
    outp: dict,
    rows: list[dict] | None,
    db: Path | None,
    probability: bool,
) -> str:
    """MODEL_CARD.md: what the file is, how to feed it, and what it measured (results db) — no invented numbers."""
    from edgenet.converters.edgetpu.check import check_model

    pre = src.preprocess
    name, file = markdown_text(src.model_name), markdown_text(bundled.name)  # user text: see edgenet.escape
    c = check_model(model).counts
    lines = [
        f"# {name} — {file}",
        "",
        "| | |",
        "|---|---|",
        f"| model | {name} |",
        f"| file | {file} ({bundled.stat().st_size / 1e6:.2f} MB with metadata; source sha256 `{sha256}`) |",
        f"| resolution | {pre.resolution}x{pre.resolution} RGB |",
        f"| input | {_fmt_io(inp)} |",
        f"| output | {_fmt_io(outp)} ({'probabilities' if probability else 'logits; softmax gives probabilities'}) |",
        f"| classes | {len(src.labels)} (`labels.txt`, also packed in the model as TENSOR_AXIS_LABELS) |",
        f"| ops | {len(model.ops)}: " + ", ".join(f"{k} {v}" for k, v in model.op_counts.items()) + " |",
        f"| Edge TPU | {_edgetpu_line(src.report, c)} |",
        f"| preprocessing from | {markdown_text(src.preprocess_from)} |",
        f"| converted by | edgenet {src.report.get('edgenet_version', __version__)} |",
        "",
        "## Input preprocessing",
        "",
        f"1. Decode to 8-bit RGB; resize the short side to {pre.resize_size} px ({pre.interpolation}); center-crop "
        f"{pre.resolution}x{pre.resolution}.",
    ]
    lines += _preprocessing_steps(pre, inp, outp)
    lines += ["", "## Accuracy and latency", ""]
    acc = src.report.get("accuracy") or src.metrics
    k = min(5, len(src.labels))  # "top-5" of a 3-class model is top-3, and always 100 %
    if acc:
        lines += _recorded_accuracy(acc, k)
    lines += _measured(rows, db, sha256, k)
    lines += [
        "",
        "## Integration",
        "",
        f"`{KOTLIN_FILE}` (Android, LiteRT `Interpreter`) and `{SWIFT_FILE}` (iOS, TensorFlowLiteSwift) implement "
        "exactly the steps above for this file's input and output types.",
        "",
    ]
    return "\n".join(lines)


def _preprocessing_steps(pre: Preprocess, inp: dict, outp: dict) -> list[str]:
    """Steps 2–4 of the card's preprocessing: normalization (or none for raw input), quantization, dequantization."""
    integer = inp["dtype"] != "float32"
    lines = []
    if pre.input == "raw":
        lines.append(
            "2. No normalization: feed the RGB values 0-255 as they are (`x = v`). The model applies per channel "
            f"`(v/255 - mean) / std` itself, mean {list(pre.mean)} std {list(pre.std)}; its metadata says mean 0 / "
            "std 1, so MediaPipe, the Task Library and pycoral feed camera pixels unchanged."
        )
    else:
        lines.append(
            f"2. Scale to [0, 1], then per channel `x = (v - mean) / std` with mean {list(pre.mean)} and std "
            f"{list(pre.std)} (TFLite metadata stores the same on the 0-255 scale)."
        )
    if integer:
        lo, hi = (0, 255) if inp["dtype"] == "uint8" else (-128, 127)
        lines.append(
            f"3. Quantize: `q = clamp(round(x / {inp['scale']:.8g}) + {inp['zero_point']}, {lo}, {hi})` "
            f"as {inp['dtype']}, NHWC."
        )
    if outp["scale"] is not None:
        lines.append(f"{4 if integer else 3}. Read the output as `(q - {outp['zero_point']}) * {outp['scale']:.8g}`.")
    return lines


def _measured(rows: list[dict] | None, db: Path | None, sha256: str, k: int) -> list[str]:
    """The card's rows of this exact file from the results db, or why there are none."""
    lines = []
    if rows is None:
        lines.append("No results database given (`--db results.sqlite` adds measured latency and accuracy here).")
    elif not rows:
        lines.append(
            f"{markdown_text(db)} has no rows for this model file (sha256 `{sha256[:12]}…`); run `edgenet bench` on it."
        )
    else:
        lines += [
            f"From {markdown_text(db)} (latest row per configuration, this exact file):",
            "",
            f"| backend | delegate | ran | interpreter | device | target | threads | p50 ms | p90 ms | top-1 | top-{k} "
            "| measured |",
            "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---|",
        ]
        from edgenet.device_bench.report import delegate_cell, device_cell

        for r in rows:
            # the results db stores accuracy in percent already
            top1 = f"{r['top1']:.2f} %" if r.get("top1") is not None else "—"
            top5 = f"{r['top5']:.2f} %" if r.get("top5") is not None else "—"
            names = [r["backend"], r["delegate"], delegate_cell(r), r.get("interpreter") or "—", device_cell(r)]
            names.append(r["target"])
            cells = [*map(markdown_text, names), r["threads"], f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", top1, top5]
            lines.append("| " + " | ".join(map(str, cells)) + f" | {markdown_text(r['created_at'])} |")
    return lines


def _edgetpu_line(report: dict, predicted: dict) -> str:
    e = report.get("edgetpu") or {}
    if e.get("compiled"):
        c = e.get("counts") or {}
        return f"compiled by edgetpu_compiler {e.get('compiler_version')}: {c.get('edgetpu')}/{c.get('total')} ops"
    return f"predicted {predicted['edgetpu']}/{predicted['total']} ops (`edgenet edgetpu check`; not compiled)"


# ---------------------------------------------------------------------------------------------- snippets
def _snippet_context(file: str, src: BundleSource, inp: dict, outp: dict, probability: bool) -> dict:
    pre = src.preprocess
    return {
        "file": file,
        "model": src.model_name,
        "size": pre.resolution,
        "resize": pre.resize_size,
        "interp": pre.interpolation,
        "mean": [float(m) for m in pre.mean],
        "std": [float(s) for s in pre.std],
        "n": len(src.labels),
        "in": inp,
        "out": outp,
        "probability": probability,
        "raw": pre.input == "raw",
    }


def _f(x: float) -> str:
    return f"{x:.9g}f"


def kotlin_snippet(c: dict) -> str:
    """Android (Kotlin, LiteRT ``Interpreter``): bitmap → ByteBuffer with this model's normalization/quantization."""
    i, o = c["in"], c["out"]
    bytes_per = 4 if i["dtype"] == "float32" else 1
    consts = [
        f"        const val MODEL_FILE = {kotlin_string(c['file'])}",
        f"        const val SIZE = {c['size']}",
        f"        const val RESIZE = {c['resize']}",
        f"        const val NUM_CLASSES = {c['n']}",
    ]
    if not c["raw"]:
        consts += [
            f"        val MEAN = floatArrayOf({', '.join(_f(m) for m in c['mean'])})",
            f"        val STD = floatArrayOf({', '.join(_f(s) for s in c['std'])})",
        ]
    normalize = "rgb[ch].toFloat()" if c["raw"] else "(rgb[ch] / 255f - MEAN[ch]) / STD[ch]"
    steps = RAW_STEPS if c["raw"] else "scale to [0, 1], (x - MEAN) / STD per channel"
    if i["dtype"] != "float32":
        consts += [
            f"        const val INPUT_SCALE = {_f(i['scale'])}",
            f"        const val INPUT_ZERO_POINT = {i['zero_point']}",
        ]
    if o["dtype"] != "float32":
        consts += [
            f"        const val OUTPUT_SCALE = {_f(o['scale'])}",
            f"        const val OUTPUT_ZERO_POINT = {o['zero_point']}",
        ]
    put = {
        "float32": "input.putFloat(x)",
        "uint8": "input.put((x / INPUT_SCALE + INPUT_ZERO_POINT).roundToInt().coerceIn(0, 255).toByte())",
        "int8": "input.put((x / INPUT_SCALE + INPUT_ZERO_POINT).roundToInt().coerceIn(-128, 127).toByte())",
    }[i["dtype"]]
    out_alloc = (
        "Array(1) { FloatArray(NUM_CLASSES) }" if o["dtype"] == "float32" else "Array(1) { ByteArray(NUM_CLASSES) }"
    )
    scores = {
        "float32": "output[0].copyOf()",
        "uint8": "FloatArray(NUM_CLASSES) { ((output[0][it].toInt() and 0xFF) - OUTPUT_ZERO_POINT) * OUTPUT_SCALE }",
        "int8": "FloatArray(NUM_CLASSES) { (output[0][it].toInt() - OUTPUT_ZERO_POINT) * OUTPUT_SCALE }",
    }[o["dtype"]]
    probs = "scores" if c["probability"] else "softmax(scores)"
    quantize_note = ", then quantize with the input tensor's scale/zero point" if bytes_per == 1 else ""
    file, model, interp = (comment_text(c[k]) for k in ("file", "model", "interp"))  # user text: see edgenet.escape
    return f"""// {KOTLIN_FILE}: generated by `edgenet bundle` for {file} ({model}).
// Input  {i["dtype"]} {i["shape"]} NHWC RGB; output {o["dtype"]} {o["shape"]} in the order of labels.txt.
// Preprocessing (as in training): resize the short side to {c["resize"]} px, center-crop {c["size"]}x{c["size"]},
// {steps}{quantize_note}.
// Gradle: implementation("com.google.ai.edge.litert:litert:<version>") (or org.tensorflow:tensorflow-lite).
// Put {file} and labels.txt in src/main/assets and keep .tflite uncompressed (androidResources.noCompress).
package com.example.edgenet

import android.content.Context
import android.graphics.Bitmap
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import kotlin.math.exp
import kotlin.math.roundToInt

class EdgenetClassifier(context: Context, numThreads: Int = 2) : AutoCloseable {{
    companion object {{
{chr(10).join(consts)}
    }}

    private val interpreter = Interpreter(loadModel(context), Interpreter.Options().setNumThreads(numThreads))
    val labels: List<String> =
        context.assets.open("labels.txt").bufferedReader().readLines().filter {{ it.isNotBlank() }}
    private val input: ByteBuffer =
        ByteBuffer.allocateDirect({bytes_per} * SIZE * SIZE * 3).order(ByteOrder.nativeOrder())
    private val output = {out_alloc}

    /** Top-[topK] (label, probability) pairs for [bitmap]. */
    fun classify(bitmap: Bitmap, topK: Int = 5): List<Pair<String, Float>> {{
        fillInput(centerCrop(bitmap))
        interpreter.run(input, output)
        val scores = {scores}
        val probs = {probs}
        return probs.indices.sortedByDescending {{ probs[it] }}.take(topK).map {{ labels[it] to probs[it] }}
    }}

    private fun centerCrop(src: Bitmap): Bitmap {{
        val scale = RESIZE.toFloat() / minOf(src.width, src.height)
        val w = maxOf(SIZE, (src.width * scale).roundToInt())
        val h = maxOf(SIZE, (src.height * scale).roundToInt())
        val resized = Bitmap.createScaledBitmap(src, w, h, true) // bilinear; training used {interp}
        return Bitmap.createBitmap(resized, (w - SIZE) / 2, (h - SIZE) / 2, SIZE, SIZE)
    }}

    private fun fillInput(image: Bitmap) {{
        val pixels = IntArray(SIZE * SIZE)
        image.getPixels(pixels, 0, SIZE, 0, 0, SIZE, SIZE)
        input.rewind()
        for (p in pixels) {{
            val rgb = intArrayOf((p shr 16) and 0xFF, (p shr 8) and 0xFF, p and 0xFF)
            for (ch in 0 until 3) {{
                val x = {normalize}
                {put}
            }}
        }}
        input.rewind()
    }}

    private fun softmax(z: FloatArray): FloatArray {{
        val m = z.maxOrNull() ?: 0f
        val e = FloatArray(z.size) {{ exp(z[it] - m) }}
        val s = e.sum()
        return FloatArray(z.size) {{ e[it] / s }}
    }}

    private fun loadModel(context: Context): MappedByteBuffer =
        context.assets.openFd(MODEL_FILE).use {{ fd ->
            FileInputStream(fd.fileDescriptor).channel.use {{ ch ->
                ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }}
        }}

    override fun close() = interpreter.close()
}}
"""


def swift_snippet(c: dict) -> str:
    """iOS (Swift, TensorFlowLiteSwift ``Interpreter``): CGImage → Data with this model's normalization/quantization."""
    i, o = c["in"], c["out"]
    consts = [
        f"    static let size = {c['size']}",
        f"    static let resize = {c['resize']}",
    ]
    if not c["raw"]:
        consts += [
            f"    static let mean: [Float] = [{', '.join(f'{m:.9g}' for m in c['mean'])}]",
            f"    static let std: [Float] = [{', '.join(f'{s:.9g}' for s in c['std'])}]",
        ]
    pixel = "Float(rgba[p * 4 + ch])"
    normalize = pixel if c["raw"] else f"({pixel} / 255 - Self.mean[ch]) / Self.std[ch]"
    steps = RAW_STEPS if c["raw"] else "scale to [0, 1], (x - mean) / std per channel"
    if i["dtype"] != "float32":
        consts += [
            f"    static let inputScale: Float = {i['scale']:.9g}",
            f"    static let inputZeroPoint = {i['zero_point']}",
        ]
    if o["dtype"] != "float32":
        consts += [
            f"    static let outputScale: Float = {o['scale']:.9g}",
            f"    static let outputZeroPoint: Float = {o['zero_point']}",
        ]
    append = {
        "float32": "var v = x\n                withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }",
        "uint8": "data.append(UInt8(clamping: Int((x / Self.inputScale).rounded()) + Self.inputZeroPoint))",
        "int8": "data.append(UInt8(bitPattern: Int8(clamping: Int((x / Self.inputScale).rounded()) "
        "+ Self.inputZeroPoint)))",
    }[i["dtype"]]
    scores = {
        "float32": "out.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }",
        "uint8": "out.data.map { (Float($0) - Self.outputZeroPoint) * Self.outputScale }",
        "int8": "out.data.map { (Float(Int8(bitPattern: $0)) - Self.outputZeroPoint) * Self.outputScale }",
    }[o["dtype"]]
    probs = "scores" if c["probability"] else "softmax(scores)"
    bytes_per = 4 if i["dtype"] == "float32" else 1
    quantize_note = ", then quantize with the input tensor's scale/zero point" if bytes_per == 1 else ""
    file, model, interp = (comment_text(c[k]) for k in ("file", "model", "interp"))  # user text: see edgenet.escape
    return f"""// {SWIFT_FILE}: generated by `edgenet bundle` for {file} ({model}).
// Input  {i["dtype"]} {i["shape"]} NHWC RGB; output {o["dtype"]} {o["shape"]} in the order of labels.txt.
// Preprocessing (as in training): resize the short side to {c["resize"]} px, center-crop {c["size"]}x{c["size"]},
// {steps}{quantize_note}.
// Podfile: pod 'TensorFlowLiteSwift' (module TensorFlowLite). Add {file} and labels.txt to the app bundle.
import CoreGraphics
import Foundation
import TensorFlowLite

final class EdgenetClassifier {{
{chr(10).join(consts)}

    private let interpreter: Interpreter
    let labels: [String]

    init(modelPath: String, labelsPath: String, threads: Int = 2) throws {{
        var options = Interpreter.Options()
        options.threadCount = threads
        interpreter = try Interpreter(modelPath: modelPath, options: options)
        try interpreter.allocateTensors()
        labels = try String(contentsOfFile: labelsPath, encoding: .utf8)
            .split(separator: "\\n").map {{ String($0) }}.filter {{ !$0.isEmpty }}
    }}

    /// Top-`topK` (label, probability) pairs for `image`.
    func classify(_ image: CGImage, topK: Int = 5) throws -> [(label: String, score: Float)] {{
        try interpreter.copy(inputData(image), toInputAt: 0)
        try interpreter.invoke()
        let out = try interpreter.output(at: 0)
        let scores: [Float] = {scores}
        let probs = {probs}
        let ranked = probs.enumerated().sorted {{ $0.element > $1.element }}.prefix(topK)
        return ranked.map {{ (labels[$0.offset], $0.element) }}
    }}

    /// Resize the short side to `resize` (high-quality interpolation; training used {interp}), center-crop
    /// `size` x `size`, normalize{", quantize" if bytes_per == 1 else ""}; NHWC, RGB.
    private func inputData(_ image: CGImage) -> Data {{
        let n = Self.size
        let s = CGFloat(Self.resize) / CGFloat(min(image.width, image.height))
        let w = max(CGFloat(n), (CGFloat(image.width) * s).rounded())
        let h = max(CGFloat(n), (CGFloat(image.height) * s).rounded())
        let ctx = CGContext(data: nil, width: n, height: n, bitsPerComponent: 8, bytesPerRow: n * 4,
                            space: CGColorSpaceCreateDeviceRGB(),
                            bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue)!
        ctx.interpolationQuality = .high
        ctx.draw(image, in: CGRect(x: (CGFloat(n) - w) / 2, y: (CGFloat(n) - h) / 2, width: w, height: h))
        let rgba = ctx.data!.assumingMemoryBound(to: UInt8.self)
        var data = Data(capacity: n * n * 3 * {bytes_per})
        for p in 0..<(n * n) {{
            for ch in 0..<3 {{
                let x = {normalize}
                {append}
            }}
        }}
        return data
    }}

    private func softmax(_ z: [Float]) -> [Float] {{
        let m = z.max() ?? 0
        let e = z.map {{ Foundation.exp($0 - m) }}
        let sum = e.reduce(0, +)
        return e.map {{ $0 / sum }}
    }}
}}
"""


def _recorded_accuracy(acc: dict, k: int = 5) -> list[str]:
    """The accuracy ``edgenet convert --eval-data`` (fractions per artefact) or training recorded, as a table."""
    rows = {k: v for k, v in acc.items() if isinstance(v, dict) and "top1" in v}
    if not rows:  # a checkpoint's training metrics: plain numbers
        items = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(acc.items()))
        return [f"Recorded with the model: {items}", ""]
    lines = ["Recorded with the model (`edgenet convert --eval-data`):", "", f"| artefact | top-1 | top-{k} | images |"]
    lines.append("|---|---:|---:|---:|")
    for name, m in rows.items():
        top5 = "—" if m.get("top5") is None else f"{100 * m['top5']:.2f} %"
        lines.append(f"| {name} | {100 * m['top1']:.2f} % | {top5} | {m.get('n', '—')} |")
    return [*lines, ""]
