"""Per-layer int8 error with TensorFlow Lite's own QuantizationDebugger, ranked and named after the network.

TF's debugger quantizes the model in *debug mode*: next to every quantized op runs its float twin, fed with the
same (dequantized) input, and a NumericVerify op records the difference. Each row below is therefore the error a
layer adds by itself — not the error it inherits — which is what localises a bad layer. For every quantized
tensor we keep

- ``sqnr_db``: signal-to-quantization-noise ratio of the whole tensor, 10·log10(Σ float² / Σ (float − int8)²);
- ``channel_sqnr_db``: the median over channels of the same ratio per channel. int8 activations share one scale
  per tensor, so a few large channels (an outlier channel, the wide ranges of depthwise outputs in EfficientNet)
  flatten every other channel to a handful of levels. Whole-tensor SQNR hides that, because the large channels
  carry the signal power; the per-channel median does not;
- ``rmse_over_scale``: RMS error in quantization steps. Pure rounding gives ≈ 0.29 (1/√12); much more means
  clipping — values outside the calibrated range.

Layers are ranked by the worse of the two SQNRs (lowest first).
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from edgenet.quantization.layer_names import UNKNOWN, Location, match_tensors

from edgenet.artifacts.tflite_model import TFLiteModel, read_tflite

_NOISE_FLOOR = 1e-12  # relative: a tensor reproduced exactly reads as 120 dB, not infinity


@dataclass
class LayerError:
    rank: int
    depth: int  # position of the op in execution order
    layer: str  # e.g. "stages.3.1.depthwise" (see edgenet.quantization.layer_names)
    stage: int | None
    block: int | None
    part: str
    op: str
    sqnr_db: float | None  # None: the tensor carries no signal (e.g. a dead ReLU6 output)
    channel_sqnr_db: float | None
    rmse_over_scale: float | None
    max_abs_error: float
    scale: float
    zero_point: int
    elements: int
    tensor: str  # the TFLite tensor name (what TF's quantizer calls a node)

    @property
    def worst_db(self) -> float | None:
        values = [v for v in (self.sqnr_db, self.channel_sqnr_db) if v is not None]
        return min(values) if values else None


def _signal(f, q, scale, zp) -> float:
    return float(np.mean(np.square(f, dtype=np.float64)))


def _noise(f, q, scale, zp) -> float:
    return float(np.mean(np.square(f.astype(np.float64) - (q.astype(np.float64) - zp) * scale)))


def _channel_sqnr(f, q, scale, zp) -> float:
    """Median over channels (last axis, NHWC) of the per-channel SQNR in dB; channels without signal skipped."""
    f = f.astype(np.float64)
    d = f - (q.astype(np.float64) - zp) * scale
    f, d = f.reshape(-1, f.shape[-1]), d.reshape(-1, d.shape[-1])
    sig, noise = np.square(f).sum(0), np.square(d).sum(0)
    live = sig > 0
    if not live.any():
        return math.nan
    return float(np.median(10 * np.log10(sig[live] / np.maximum(noise[live], _NOISE_FLOOR * sig[live]))))


DIRECT_METRICS = {"signal_power": _signal, "noise_power": _noise, "channel_sqnr_db": _channel_sqnr}


def debug_dataset(samples: np.ndarray):
    """TF's dataset factory: NCHW float32 samples as NHWC single-image batches."""

    def gen():
        for x in samples:
            yield [np.ascontiguousarray(x.transpose(1, 2, 0))[None].astype(np.float32)]

    return gen


def layer_errors(debug_model: bytes, samples: np.ndarray, locations: dict[str, Location]) -> list[LayerError]:
    """Run TF's QuantizationDebugger on ``debug_model`` (:func:`edgenet.quantization.ptq.debug_model` of the calibrated
    model) over ``samples`` and return the ranked per-layer errors."""
    import tensorflow as tf

    opts = tf.lite.experimental.QuantizationDebugOptions(layer_direct_compare_metrics=DIRECT_METRICS)
    stats = tf.lite.experimental.QuantizationDebugger(
        quant_debug_model_content=debug_model, debug_dataset=debug_dataset(samples), debug_options=opts
    )
    stats.run()
    buf = io.StringIO()
    stats.layer_statistics_dump(buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    return rank([_row(i, r, locations) for i, r in enumerate(rows)])


@dataclass
class Analysis:
    """Per-layer errors plus what the fixes need: tensor → layer names and the fp32 model's structure."""

    layers: list[LayerError]
    locations: dict[str, Location] = field(repr=False)
    fp32: TFLiteModel = field(repr=False)
    seconds: float = 0.0


def analyse(
    quantizer, fp32_path: Path, onnx_path: Path, calibrated: bytes, samples: np.ndarray, debug_samples: int = 32
) -> Analysis:
    """Name every tensor after its layer, then debug every quantized layer on the first ``debug_samples``."""
    t0 = time.perf_counter()
    locations = match_tensors(fp32_path, onnx_path, samples[0])
    layers = layer_errors(quantizer.debug_model(calibrated), samples[:debug_samples], locations)
    return Analysis(layers, locations, read_tflite(fp32_path), round(time.perf_counter() - t0, 2))


def _row(depth: int, r: dict, locations: dict[str, Location]) -> LayerError:
    signal, noise = float(r["signal_power"]), float(r["noise_power"])
    sqnr = 10 * math.log10(signal / max(noise, _NOISE_FLOOR * signal)) if signal > 0 else None
    scale = float(r["scale"])
    channel = float(r["channel_sqnr_db"])
    loc = locations.get(r["tensor_name"], UNKNOWN)
    return LayerError(
        rank=0,
        depth=depth,
        layer=loc.layer,
        stage=loc.stage,
        block=loc.block,
        part=loc.part,
        op=r["op_name"],
        sqnr_db=None if sqnr is None else round(sqnr, 2),
        channel_sqnr_db=None if math.isnan(channel) else round(channel, 2),
        rmse_over_scale=round(math.sqrt(float(r["mean_squared_error"])) / scale, 3) if scale > 0 else None,
        max_abs_error=float(r["max_abs_error"]),
        scale=scale,
        zero_point=int(float(r["zero_point"])),
        elements=int(float(r["num_elements"])),
        tensor=r["tensor_name"],
    )


def rank(layers: list[LayerError]) -> list[LayerError]:
    """Worst first: by the lower of whole-tensor and per-channel SQNR, ties by whole-tensor SQNR."""

    def key(e: LayerError):
        worst = e.worst_db
        return (math.inf if worst is None else worst, math.inf if e.sqnr_db is None else e.sqnr_db)

    ranked = sorted(layers, key=key)
    for i, e in enumerate(ranked, 1):
        e.rank = i
    return ranked


def write_csv(layers: list[LayerError], path: Path) -> None:
    names = [f.name for f in fields(LayerError)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for e in layers:
            w.writerow(asdict(e))


def write_png(layers: list[LayerError], path: Path, title: str, top: int = 5) -> tuple[float, float, int]:
    """SQNR by depth (execution order), one colour per stage; the ``top`` worst layers labelled.

    Returns the y range drawn and how many tensors lie above it (drawn on its top edge)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_depth = sorted(layers, key=lambda e: e.depth)
    finite = [v for e in layers for v in (e.sqnr_db, e.channel_sqnr_db) if v is not None]
    # exact layers (PAD, 120 dB) would squash the interesting range: the axis stops at 70 dB and higher values sit
    # on its top edge, drawn as open triangles
    lo, hi = (min(min(finite) - 5, 0), min(max(finite) + 5, 70)) if finite else (0, 70)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    x = [e.depth for e in by_depth]
    line = np.array([np.nan if e.sqnr_db is None else e.sqnr_db for e in by_depth], dtype=float)
    ax.plot(x, np.minimum(line, hi), color="0.7", lw=1, zorder=1, label="whole-tensor SQNR")
    over = line > hi
    if over.any():
        ax.scatter(np.asarray(x)[over], np.full(over.sum(), hi), marker="^", facecolors="none", edgecolors="0.5",
                   s=22, zorder=2, clip_on=False, label=f"above {hi:.0f} dB (exact)")  # fmt: skip
    groups: dict[str, list[LayerError]] = {}
    for e in by_depth:
        groups.setdefault(f"stage {e.stage}" if e.stage is not None else e.part or "other", []).append(e)
    for name, es in groups.items():
        ax.scatter(
            [e.depth for e in es],
            [np.nan if e.worst_db is None else min(e.worst_db, hi) for e in es],
            s=18,
            zorder=2,
            label=name,
        )
    worst = [e for e in layers if e.worst_db is not None][:top]
    for e in worst:  # rank numbers on the points, names in a box: long layer names never overlap
        ax.annotate(str(e.rank), (e.depth, min(e.worst_db, hi)), xytext=(3, 3), textcoords="offset points", fontsize=8)
    names = "\n".join(f"{e.rank}. {e.layer} ({e.op.lower()}) {e.worst_db:.1f} dB" for e in worst)
    ax.text(
        0.01,
        0.02,
        names,
        transform=ax.transAxes,
        fontsize=7,
        va="bottom",
        family="monospace",
        bbox=dict(boxstyle="round", fc="white", ec="0.8", alpha=0.9),
    )
    ax.set_ylim(lo, hi)
    ax.set_xlabel("layer, in execution order")
    ax.set_ylabel("int8 signal-to-noise, dB\n(higher is better; +6 dB ≈ one more bit)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return lo, hi, int(over.sum())
