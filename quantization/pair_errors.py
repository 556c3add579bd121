"""Per-layer int8 error of an existing float/int8 ``.tflite`` pair, and what each calibration method would change.

``quant-report --model-file`` has no checkpoint to re-convert, so TF's debug-mode model (which runs every op's
float twin on the *same* input) cannot be built. Instead both models run on the same images with every
intermediate tensor kept, and each int8 op output is compared with the float tensor of the same name (TF's and
ai-edge-quantizer's int8 models keep the float model's tensor names). The error is therefore *accumulated* — a
layer's own plus everything upstream — so the ranking points at where the error becomes large rather than at the
single op that adds it; the metrics are the debugger's (:mod:`edgenet.quantization.debugger`).

:func:`method_trials` quantizes the float model with every ``--calibration`` method on the same calibration and
measures what the user would get — top-1 agreement with float and the logits' SQNR on the samples, and accuracy
when labelled images are given — so the report suggests a method only when it measurably helps.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgenet.quantization.debugger import _NOISE_FLOOR, LayerError, rank
from edgenet.quantization.layer_names import UNKNOWN, Location

from edgenet.artifacts.tflite_model import read_tflite
from edgenet.progress import SILENT, Progress


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgenet.quiet import native_stderr_captured

    with native_stderr_captured(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": that is what this is
        it = Interpreter(
            model_path=str(path),
            experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    it.allocate_tensors()
    return it


def _feed(it, x: np.ndarray) -> None:
    """One NHWC float image into ``it``, quantized with the input's own parameters when the input is integer."""
    d = it.get_input_details()[0]
    if np.issubdtype(d["dtype"], np.integer):
        scale, zp = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.round(x / scale + zp), info.min, info.max)
    it.set_tensor(d["index"], x[None].astype(d["dtype"]))
    it.invoke()


def pair_errors(
    fp32_path: Path,
    int8_path: Path,
    samples: np.ndarray,
    locations: dict[str, Location] | None = None,
    progress: Progress = SILENT,
) -> list[LayerError]:
    """Ranked accumulated error of every int8 op output with a float twin, over ``samples`` (NCHW float)."""
    q8 = read_tflite(int8_path)
    f_it, q_it = _interpreter(fp32_path), _interpreter(int8_path)
    f_index = {d["name"]: d["index"] for d in f_it.get_tensor_details()}
    rows = []
    for depth, op in enumerate(q8.ops):
        for o in op.outputs:
            t = q8.tensors[o]
            if t.dtype in ("int8", "uint8", "int16") and t.scale and t.name in f_index:
                rows.append((depth, op.opcode, t))
    acc = {t.name: np.zeros(4) for _, _, t in rows}  # signal, noise, max |error|, elements
    chan: dict[str, list[np.ndarray]] = {t.name: [] for _, _, t in rows}
    x = np.ascontiguousarray(samples.transpose(0, 2, 3, 1), dtype=np.float32)
    for s in progress.iterate(x, "float vs int8 tensors", len(x), "img"):
        _feed(f_it, s)
        _feed(q_it, s)
        for _, _, t in rows:
            f = f_it.get_tensor(f_index[t.name]).astype(np.float64)
            q = (q_it.get_tensor(t.index).astype(np.float64) - t.zero_point[0]) * t.scale[0]
            if f.shape != q.shape:
                continue
            err = f - q
            a = acc[t.name]
            a += [np.sum(f * f), np.sum(err * err), 0, f.size]
            a[2] = max(a[2], float(np.abs(err).max()))
            if f.ndim == 4:  # per-channel signal and noise (NHWC)
                chan[t.name].append(np.stack([np.sum(f * f, (0, 1, 2)), np.sum(err * err, (0, 1, 2))]))
    out = []
    for depth, opcode, t in rows:
        signal, noise, max_err, n = acc[t.name]
        if not n:
            continue
        sqnr = 10 * math.log10(signal / max(noise, _NOISE_FLOOR * signal)) if signal > 0 else None
        ch = None
        if chan[t.name]:
            s_c, n_c = np.sum(chan[t.name], axis=0)
            live = s_c > 0
            if live.any():
                ch = float(np.median(10 * np.log10(s_c[live] / np.maximum(n_c[live], _NOISE_FLOOR * s_c[live]))))
        loc = (locations or {}).get(t.name, UNKNOWN)
        layer = loc.layer if loc is not UNKNOWN else t.name.split(";")[0]
        err = dict(max_abs_error=max_err, scale=t.scale[0], zero_point=int(t.zero_point[0]), elements=int(n))
        out.append(
            LayerError(
                rank=0,
                depth=depth,
                layer=layer,
                stage=loc.stage,
                block=loc.block,
                part=loc.part,
                op=opcode,
                sqnr_db=None if sqnr is None else round(sqnr, 2),
                channel_sqnr_db=None if ch is None else round(ch, 2),
                rmse_over_scale=round(math.sqrt(noise / n) / t.scale[0], 3),
                tensor=t.name,
                **err,
            )
        )
    return rank(out)


@dataclass
class MethodTrial:
    """One ``--calibration`` method's int8 model against the float model on the same images."""

    method: str
    agreement: float  # top-1 agreement with float on the calibration samples
    logits_sqnr_db: float | None
    top1: float | None = None  # on --eval-data, when given
    n: int | None = None
    samples: int = 0  # images the agreement and SQNR were measured on


def method_trials(
    quantizer,
    fp32: bytes,
    samples: np.ndarray,
    methods: list[str],
    score=None,
    calibrated: bytes | None = None,
    progress: Progress = SILENT,
) -> list[MethodTrial]:
    """Each method's int8 model (float I/O) on ``samples``; ``score(path) -> (top1, n)`` adds accuracy."""
    from edgenet.quantization.calibration_methods import choose_ranges, parse_method
    from edgenet.quantization.ranges import boundary_tensors, histograms, read_ranges, write_ranges

    from edgenet.artifacts.runtime import TFLiteRunner

    if calibrated is None:
        from edgenet.quantization.calibrator import calibrate

        calibrated = calibrate(fp32, samples, progress=progress)
    base = calibrated
    ranges = read_ranges(base)
    hists = None
    trials = []
    with tempfile.TemporaryDirectory(prefix="edgenet-methods-") as tmp:
        ref_path = Path(tmp) / "fp32.tflite"
        ref_path.write_bytes(fp32)
        ref = TFLiteRunner(ref_path)(samples)
        for spec in methods:
            m, param = parse_method(spec)
            cal = base
            if m.choose is not None:
                if hists is None:
                    hists = histograms(fp32, samples, ranges, progress=progress)
                cal = write_ranges(base, choose_ranges(m, param, ranges, hists, boundary_tensors(fp32)))
            path = Path(tmp) / f"{m.name}.tflite"
            path.write_bytes(quantizer.int8(cal, "float32", ()))
            trials.append(trial(m.name, ref, path, samples, score))
    return trials


def trial(name: str, ref: np.ndarray, path: Path, samples: np.ndarray, score=None) -> MethodTrial:
    """The int8 model at ``path`` (float I/O) against the float logits ``ref`` on ``samples``."""
    from edgenet.artifacts.runtime import TFLiteRunner

    out = TFLiteRunner(path)(samples)
    noise, signal = float(np.sum((ref - out) ** 2)), float(np.sum(ref**2))
    sqnr = round(10 * math.log10(signal / max(noise, _NOISE_FLOOR * signal)), 2) if signal > 0 else None
    top1, n = score(path) if score else (None, None)
    return MethodTrial(name, float((ref.argmax(1) == out.argmax(1)).mean()), sqnr, top1, n, len(samples))


def flags(trial_name: str) -> str:
    """The convert flags of a trial: ``--calibration mse``, or ``--weight-rounding adaround --bias-correction``
    for a weight rounding (``rounding:adaround+bias-correction``)."""
    if not trial_name.startswith("rounding:"):
        return f"--calibration {trial_name}"
    parts = trial_name.removeprefix("rounding:").split("+")
    return " ".join(
        [f"--weight-rounding {p}" for p in parts if p != "bias-correction"]
        + (["--bias-correction"] if "bias-correction" in parts else [])
    )


SQNR_GAIN_DB = 1.0  # without labels, a method must raise the logits' SQNR by this much to be worth suggesting
TOP1_GAIN = 0.003  # with labels, by this much top-1 (0.3 points) and at least 2 images: a 1-image gain is noise


def method_advice(trials: list[MethodTrial], quantizer: str) -> list[str]:
    """A suggestion for the best method (or weight rounding, ``rounding:...`` trials) when it measurably beats
    min/max: ≥ 0.3 points (and ≥ 2 images) more top-1 on labelled images, or without labels agreement with float on
    ≥ 2 more images, or ≥ 1 dB more logits SQNR."""
    if not trials or trials[0].method != "minmax":
        return []
    base = trials[0]
    by_top1 = base.top1 is not None

    def gain(t: MethodTrial) -> tuple[float, float]:
        if by_top1:
            won = t.top1 - base.top1
            return (won if won >= TOP1_GAIN and won * (t.n or 0) >= 2 else 0.0, 0.0)
        sqnr = (t.logits_sqnr_db or -math.inf) - (base.logits_sqnr_db or -math.inf)
        agree = t.agreement - base.agreement
        return (agree if agree * t.samples >= 2 else 0.0, sqnr if sqnr >= SQNR_GAIN_DB else 0.0)

    best = max(trials, key=gain)
    if gain(best) <= (0.0, 0.0):
        what = (
            "calibration methods and weight roundings"
            if any(t.method.startswith("rounding:") for t in trials)
            else ("calibration methods")
        )
        return [f"{what}: none measurably beats min/max here ({_summary(trials, by_top1)})"]
    if by_top1:
        what = f"top-1 {100 * base.top1:.2f} → {100 * best.top1:.2f} % on {best.n} images"
    elif best.agreement > base.agreement:
        what = f"agreement with float {base.agreement:.1%} → {best.agreement:.1%} on the calibration images"
    else:
        what = f"logits SQNR {base.logits_sqnr_db:.1f} → {best.logits_sqnr_db:.1f} dB on the calibration images"
    return [
        f"{flags(best.method)}: {what}, still full-integer at the same speed "
        f"(edgenet convert ... --int8 --quantizer {quantizer} {flags(best.method)})"
    ]


def _summary(trials: list[MethodTrial], by_top1: bool) -> str:
    return ", ".join(
        f"{t.method} {100 * t.top1:.2f} %" if by_top1 else f"{t.method} {t.agreement:.1%} agree, {t.logits_sqnr_db} dB"
        for t in trials
    )
