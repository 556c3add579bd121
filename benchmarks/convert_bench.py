"""Conversion benchmark: wall time, op counts and TFLite latency of edgenet's b0 against Keras' native export.

Runs `edgenet convert --model b0 --int8 --calib-samples 100` (224 px, 1000 classes) as a user would, then times
edgenet's fp32/int8 artefacts side by side with `tf.keras.applications.EfficientNetB0(weights=None)` converted by
TFLiteConverter (fp32, and int8 with the same 100 calibration images). Latency: ai-edge-litert with XNNPACK,
10 warm-up runs, then rounds of 10 runs interleaved A B C D … until each model has ≥ 60; median and p90.

    python benchmarks/convert_bench.py [--calib-data ../shared/data/cifar10/test] [--runs 60]

Writes docs/benchmarks/convert.md and convert.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, tflite_latency

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def keras_tflite(calib: np.ndarray, out: Path) -> dict[str, Path]:
    """Keras' own EfficientNetB0 (preprocessing inside, 0–255 input) converted natively."""
    import tensorflow as tf

    model = tf.keras.applications.EfficientNetB0(weights=None)
    saved = out / "keras_saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)  # Keras 3's own TFLite route
    paths = {}
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    paths["keras_fp32"] = out / "keras_fp32.tflite"
    paths["keras_fp32"].write_bytes(conv.convert())
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    paths["keras_int8"] = out / "keras_int8.tflite"
    paths["keras_int8"].write_bytes(conv.convert())
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib-data", type=Path, default=ROOT.parent / "shared" / "data" / "cifar10" / "test")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = ap.parse_args()

    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.preprocess import Preprocess
    from quantization.calibration import from_folder

    work = Path(tempfile.mkdtemp(prefix="convert-bench-"))
    load_before = loadavg()
    t0 = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "edgenet.cli",
        "convert",
        "--model",
        "b0",
        "--int8",
        "--calib-data",
        str(args.calib_data),
        "--calib-samples",
        "100",
        "-q",
        "--out",
        str(work / "edgenet"),
    ]
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    report = json.loads((work / "edgenet" / "report.json").read_text())

    # Keras' model takes 0–255 pixels and normalizes inside, so calibrate it on the same images before mean/std.
    pre = Preprocess(resolution=224)
    cal = from_folder(args.calib_data, pre, 100).samples
    raw = (cal.transpose(0, 2, 3, 1) * np.array(pre.std) + np.array(pre.mean)) * 255.0
    paths = {
        "edgenet_fp32": work / "edgenet" / "model_fp32.tflite",
        "edgenet_int8": work / "edgenet" / "model_int8.tflite",
    }
    paths.update(keras_tflite(raw.astype(np.float32), work))

    ops = {n: read_tflite(p).op_counts for n, p in paths.items()}
    lat = {t: tflite_latency(paths, args.runs, t, warmup=10) for t in (1, 2)}
    result = {
        "env": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "convert_wall_seconds": round(wall, 1),
        "stage_seconds": {
            "onnx": report["onnx"]["seconds"],
            **{a["name"]: a["seconds"] for a in report["artifacts"]},
            "total_in_process": report["total_seconds"],
        },
        "ops": ops,
        "bytes": {n: p.stat().st_size for n, p in paths.items()},
        "latency": lat,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "convert.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (args.out / "convert.md").write_text(md)
    print(md)


def render(r: dict) -> str:
    lines = [
        "# Conversion benchmark (b0, 224 px, 1000 classes)",
        "",
        "Produced by `python benchmarks/convert_bench.py` — numbers below are from that run, not edited.",
        "",
        f"Machine: {r['env']['cpu']}, {r['env']['cores']} cores; load average before/after "
        f"{r['env']['loadavg_before'][0]:.1f} / {r['env']['loadavg_after'][0]:.1f} (other jobs were running).",
        "",
        "## Conversion time",
        "",
        f"`edgenet convert --model b0 --int8 --calib-samples 100` wall time (process start to exit): "
        f"**{r['convert_wall_seconds']:.1f} s** (goal ≤ 60 s).",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in r["stage_seconds"].items()],
        "",
        "## Graph",
        "",
        "| model | bytes | TRANSPOSE | ops |",
        "|---|---|---|---|",
        *[
            f"| {n} | {r['bytes'][n]:,} | {o.get('TRANSPOSE', 0)} | {', '.join(f'{k} {v}' for k, v in o.items())} |"
            for n, o in r["ops"].items()
        ],
        "",
        "## Latency (ai-edge-litert, XNNPACK, interleaved rounds)",
        "",
        "| threads | model | p50 ms | p90 ms | runs | p50 vs Keras-native |",
        "|---|---|---|---|---|---|",
    ]
    for t, res in r["latency"].items():
        for n, v in res.items():
            kind = n.split("_")[1]
            ratio = v["p50_ms"] / res[f"keras_{kind}"]["p50_ms"]
            lines.append(f"| {t} | {n} | {v['p50_ms']:.2f} | {v['p90_ms']:.2f} | {v['runs']} | {ratio:.3f}× |")
    l1 = r["latency"]["1"] if "1" in r["latency"] else r["latency"][1]
    speed = l1["edgenet_fp32"]["p50_ms"] / l1["edgenet_int8"]["p50_ms"]
    lines += ["", f"int8 speed-up over fp32 at 1 thread (edgenet): **{speed:.2f}×** (goal ≥ 2×).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
