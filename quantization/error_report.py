"""``edgenet quant-report``'s content: which layers int8 hurts, by how much, and what to do about it.

The numbers come from :func:`edgenet.quantization.debugger.analyse` on the same calibrated model ``edgenet convert``
quantizes (``edgenet.workflows.quant_report`` builds it with the conversion stages). Here: the report's dataclass, the
advice, and its files — ``layers.csv`` (every tensor, ranked), ``error_by_depth.png`` and ``report.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgenet.quantization import fixes
from edgenet.quantization.debugger import Analysis, LayerError, write_csv, write_png

DEBUG_SAMPLES = 32  # images the debugger runs (each runs the float and int8 ops side by side)
FILES = ["layers.csv", "error_by_depth.png", "report.json"]


@dataclass
class QuantReport:
    edgenet_version: str
    model: str
    resolution: int
    weights: str
    act: str
    calibration: dict
    debug_samples: int
    layers: list[LayerError]  # ranked, worst first
    quantizer: str = "tflite"
    errors: str = "per-layer"  # "per-layer" (TF's debugger: each op's own error) or "accumulated" (a .tflite pair)
    files_analysed: dict | None = None  # {"float": path, "int8": path} for a .tflite pair
    methods: list[dict] = field(
        default_factory=list
    )  # edgenet.quantization.pair_errors.MethodTrial per --calibration method
    accuracy: dict | None = None  # {"fp32": {"top1", "top5", "n"}, "int8": {...}} on --eval-data
    agreement: float | None = None  # int8 vs fp32 top-1 agreement on --eval-data
    drop: float | None = None  # accuracy points lost by int8
    int8_ms: float | None = None  # median latency at 1 thread on this machine
    suggestions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


ROUNDING_ONLY = 0.35  # RMS error in quantization steps: pure rounding is 1/√12 ≈ 0.29; clipping pushes it higher


def at_rounding_noise(layers: list[LayerError], worst: int = 3) -> bool:
    """True when the ``worst`` ranked layers — those ``--keep-float`` would keep in float — lose no more than
    rounding: they are not broken, merely the noisiest, so float fallback buys little."""
    values = [e.rmse_over_scale for e in layers[:worst]]
    return bool(values) and all(v is not None and v <= ROUNDING_ONLY for v in values)


def suggestions(report: QuantReport, num_classes: int, latency_budget_ms: float | None) -> list[str]:
    """What to try next, cheapest first, with the layers the fixes would target."""
    worst = fixes.worst_layers(report.layers, 3)
    if at_rounding_noise(report.layers):
        worst_rmse = max(e.rmse_over_scale for e in report.layers[:3])
        first = (
            f"the worst-ranked layers ({', '.join(worst)}) are at rounding noise (RMS error ≤ {worst_rmse:.2f} "
            "steps; pure rounding is 0.29, clipping is more): none is broken, so keeping them in float buys little — "
            "the loss is int8's resolution spread over the network (16×8 or better calibration/rounding help more)"
        )
        first += (
            f" (measured drop {report.drop:g} points on {report.accuracy['int8']['n']} images)"
            if report.accuracy and report.drop is not None
            else ""
        )
    else:
        first = (
            f"float fallback of the worst layers: edgenet convert (same model options) --int8 --keep-float "
            f"{','.join(worst)} (or --keep-float 3); no longer full-integer"
        )
    out = [
        first,
        "16×8: edgenet convert ... --int16-act (int16 activations, int8 weights; no Edge TPU)",
        "or let convert choose: --auto-fix --max-drop 1 --eval-data DIR",
    ]
    return out + fixes.recommendations(
        report.model, report.act, report.resolution, num_classes, report.int8_ms, latency_budget_ms
    )


def write_files(report: QuantReport, analysis: Analysis, folder: Path, top: int) -> None:
    """layers.csv, error_by_depth.png and report.json into ``folder`` (a staging folder)."""
    write_csv(analysis.layers, folder / "layers.csv")
    title = f"{report.model} @ {report.resolution}px: int8 error per layer (TF QuantizationDebugger)"
    write_png(analysis.layers, folder / "error_by_depth.png", title, top=min(top, 8))
    report.files = list(FILES)
    (folder / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
