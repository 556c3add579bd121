"""Conversion benchmark: wall time, op counts and TFLite latency of edgenet's b0 against Keras' native export.

Runs `edgenet convert --model b0 --int8 --calib-samples 100` (224 px, 1000 classes) as a user would, then times
edgenet's fp32/int8 artefacts side by side with `tf.keras.applications.EfficientNetB0(weights=None)` converted by
TFLiteConverter (fp32, and int8 with the same 100 calibration images). Latency: ai-edge-litert with XNNPACK,
10 warm-up runs, then rounds of 10 runs interleaved A B C D … until each model has ≥ 60; median and p90.

    python benchmarks/convert_bench.py [--calib-data ../shared/data/cifar10/test] [--runs 60]
    python benchmarks/convert_bench.py --family [--litert-torch-python PY] [--models b0,lite0]

Writes docs/benchmarks/convert.md and convert.json. ``--family`` converts every variant (B0–B7, Lite0–4,
EdgeTPU-S/M/L) at its native size, fp32 + int8 on 100 calibration images, one fresh process each, and records wall
seconds, each stage's seconds and peak resident memory (report.json's ``stages``), the process's peak (``wait4``)
and the estimate conversion made before it started; beside them the yardstick (100 single-thread invokes of the
B0 fp32 ``.tflite``, timed in the same run) and, with ``--litert-torch-python`` (a venv with litert-torch, which
needs its own torch), litert-torch's fp32 conversion of the same PyTorch module. It writes convert-family.json and
re-renders convert.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg
from edgenet.device_bench.latency import tflite_latency

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


def profile(calib_data: Path, samples: int) -> dict:
    """Each stage of ``convert --model b0 --int8`` timed in a fresh process, through the same stage functions.

    Also times what the stages replaced or could be replaced by, so the breakdown says why a stage takes what it
    takes: TFLite's calibrator (the path before fast-kernel calibration) on all cores and on one, TF's converter
    re-converting the float graph to calibrate in-process (the path before that), and onnx2tf's strict mode.
    """
    t = {}
    t0 = time.perf_counter()
    import torch  # noqa: F401

    t["import torch"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import onnx2tf  # noqa: F401  (imports tensorflow)

    t["import tensorflow + onnx2tf"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from edgenet.converters.graph import export_float
    from edgenet.converters.kinds import BuildContext
    from edgenet.converters.pipeline import build_artifact
    from edgenet.converters.tflite import concrete_function, onnx_to_tf
    from edgenet.quantization.calibration import Calibration, from_folder
    from edgenet.quantization.calibrator import available_cpus, calibrate
    from edgenet.quantization.quantizers import get_quantizer
    from edgenet.quantization.recipe import Int8Recipe

    from edgenet.loading import load_model

    t["import edgenet's stages"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = load_model("b0")
    cal = from_folder(calib_data, loaded.preprocess, samples).samples
    t["model + calibration images"] = time.perf_counter() - t0
    work = Path(tempfile.mkdtemp(prefix="convert-profile-"))
    t0 = time.perf_counter()
    graph = export_float(loaded.model, loaded.name, 224, work, cal[:8])
    total = time.perf_counter() - t0
    t["ONNX export + check"] = graph.onnx.seconds
    t["onnx2tf + fp32 TFLite"] = graph.tf_seconds
    t["parity checks (torch, ORT, TFLite fp32)"] = total - graph.onnx.seconds - graph.tf_seconds
    q = get_quantizer("tflite")
    t0 = time.perf_counter()
    shared = Calibration(graph.fp32, cal)
    shared.model(q)
    t[f"int8: calibration (fast: XNNPACK, {available_cpus()} threads)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_artifact("int8", BuildContext(graph, cal, Int8Recipe(q.name), calibration=shared))
    t["int8: quantization (MLIR quantizer)"] = time.perf_counter() - t0
    stages = {k: round(v, 2) for k, v in t.items()}

    why = {}
    t0 = time.perf_counter()
    calibrate(graph.fp32, cal, calibrator="tflite")
    why[f"calibration: TFLite's calibrator, {available_cpus()} worker processes (the path before)"] = (
        time.perf_counter() - t0
    )
    t0 = time.perf_counter()
    calibrate(graph.fp32, cal, workers=1, calibrator="tflite")
    why["calibration: TFLite's calibrator, one worker (its CPU cost)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_concrete_functions([graph.concrete_fn], graph.trackable)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.ascontiguousarray(x.transpose(1, 2, 0))[None]] for x in cal)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    conv.convert()
    why["int8 via TFLiteConverter.convert() (the path before: float conversion again + in-process calibration)"] = (
        time.perf_counter() - t0
    )
    t0 = time.perf_counter()
    concrete_function(onnx_to_tf(graph.onnx_path, strict=True))
    why["onnx2tf in strict mode (graph only)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    concrete_function(onnx_to_tf(graph.onnx_path, strict=False))
    why["onnx2tf default, non-strict (graph only)"] = time.perf_counter() - t0
    return {"stages": stages, "why": {k: round(v, 2) for k, v in why.items()}, "samples": len(cal)}


FAMILY = [f"b{i}" for i in range(8)] + [f"lite{i}" for i in range(5)] + ["edgetpu_s", "edgetpu_m", "edgetpu_l"]
LITERT_TORCH = """
import sys, time, json, resource, torch
t0 = time.perf_counter()
import litert_torch
from edgenet.loading import load_model
m = load_model(sys.argv[1]); r = m.preprocess.resolution
t1 = time.perf_counter()
litert_torch.convert(m.model.eval(), (torch.randn(1, 3, r, r),)).export(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t1, "imports_and_model": t1 - t0}))
"""


def timed_process(cmd: list[str], env: dict | None = None, timeout: float = 1800) -> tuple[float, float, int]:
    """(wall seconds, peak resident MB of the process and its children, exit code) of one command.

    The peak is the kernel's ``wait4`` figure: right for a process that never resets its mark (litert-torch),
    not for ``edgenet convert``, whose stages do."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            p.kill()
        time.sleep(0.05)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def yardstick(fp32: Path) -> float:
    """100 single-thread invokes of the B0 fp32 ``.tflite`` (XNNPACK), after 10 warm-up runs: the machine's unit."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(fp32), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], np.zeros(d["shape"], np.float32))
    for _ in range(10):
        it.invoke()
    t0 = time.perf_counter()
    for _ in range(100):
        it.invoke()
    return time.perf_counter() - t0


def family(args) -> dict:
    """Every variant converted (fp32 + int8, 100 calibration images) in a fresh process, as a user runs it."""
    from _common import log
    from edgenet.converters.memory import sizes_mb

    from edgenet.loading import load_model

    work = Path(tempfile.mkdtemp(prefix="convert-family-"))
    rows, load_before = [], loadavg()
    for name in args.models.split(","):
        out = work / name
        cmd = [sys.executable, "-m", "edgenet.cli", "convert", "--model", name, "--int8", "--calib-data",
               str(args.calib_data), "--calib-samples", "100", "-q", "--out", str(out)]  # fmt: skip
        log(f"{name}: edgenet convert")
        wall, _, code = timed_process(cmd)  # its own peak comes from report.json: stages reset the mark
        row = {"model": name, "exit": code, "wall_seconds": round(wall, 1)}
        if code == 0:
            rep = json.loads((out / "report.json").read_text())
            row |= {"resolution": rep["resolution"], "stages": rep["stages"], "estimate_mb": rep["memory_estimate_mb"],
                    "peak_rss_mb": round(max(s["peak_rss_mb"] for s in rep["stages"]))}  # fmt: skip
            if name == "b0":
                row["yardstick_seconds"] = round(yardstick(out / "model_fp32.tflite"), 3)
        loaded = load_model(name)
        sizes = sizes_mb(loaded.model, loaded.preprocess.resolution)
        row["weights_mb"], row["activations_mb"] = round(sizes[0], 1), round(sizes[1], 1)
        if args.litert_torch_python and name in args.litert_torch_models.split(","):
            log(f"{name}: litert-torch")
            script = work / "lt.py"
            script.write_text(LITERT_TORCH)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            lt_cmd = [args.litert_torch_python, str(script), name, str(work / f"{name}_lt.tflite")]
            lt_wall, lt_peak, lt_code = timed_process(lt_cmd, env, timeout=900)
            row["litert_torch"] = {"wall_seconds": round(lt_wall, 1), "peak_rss_mb": round(lt_peak), "exit": lt_code}
        log(f"{name}: {row['wall_seconds']} s, {row.get('peak_rss_mb')} MB")
        rows.append(row)
        shutil.rmtree(out, ignore_errors=True)
    return {"env": {"cpu": cpu_model(), "cores": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": loadavg()}, "calib_data": str(args.calib_data), "models": rows}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib-data", type=Path, default=ROOT.parent / "shared" / "data" / "cifar10" / "test")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    ap.add_argument("--family", action="store_true", help="convert the whole family (see above)")
    ap.add_argument("--models", default=",".join(FAMILY), help="with --family: which variants")
    ap.add_argument("--litert-torch-python", help="with --family: a Python with litert-torch installed")
    ap.add_argument("--litert-torch-models", default="b0,b3,lite0,lite4,edgetpu_s", help="which it converts")
    ap.add_argument("--render-only", action="store_true", help="rewrite convert.md from the two JSON files only")
    ap.add_argument("--profile-only", action="store_true", help=argparse.SUPPRESS)  # the subprocess of profile()
    args = ap.parse_args()
    if args.render_only:
        fam = args.out / "convert-family.json"
        md = render(json.loads((args.out / "convert.json").read_text()), json.loads(fam.read_text()))
        (args.out / "convert.md").write_text(md)
        return
    if args.profile_only:
        print(json.dumps(profile(args.calib_data, 100)))
        return
    if args.family:
        result = family(args)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "convert-family.json").write_text(json.dumps(result, indent=2) + "\n")
        md = render(json.loads((args.out / "convert.json").read_text()), result)
        (args.out / "convert.md").write_text(md)
        print(md)
        return

    from edgenet.quantization.calibration import from_folder

    from edgenet.artifacts.tflite_model import read_tflite
    from edgenet.preprocess import Preprocess

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
    prof = subprocess.run(
        [sys.executable, __file__, "--profile-only", "--calib-data", str(args.calib_data)],
        check=True,
        capture_output=True,
        text=True,
    )
    profiled = json.loads(prof.stdout.strip().splitlines()[-1])

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
        "yardstick_seconds": round(yardstick(work / "edgenet" / "model_fp32.tflite"), 3),
        "env": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "convert_wall_seconds": round(wall, 1),
        "profile": profiled,
        "stage_seconds": {
            "onnx": report["onnx"]["seconds"],
            **{a["name"]: a["seconds"] for a in report["artifacts"]},
            "total_in_process": report["total_seconds"],
        },
        "stages": report["stages"],
        "ops": ops,
        "bytes": {n: p.stat().st_size for n, p in paths.items()},
        "latency": lat,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "convert.json").write_text(json.dumps(result, indent=2) + "\n")
    fam = args.out / "convert-family.json"
    md = render(result, json.loads(fam.read_text()) if fam.is_file() else None)
    (args.out / "convert.md").write_text(md)
    print(md)


def _floor(r: dict) -> list[str]:
    """Why the wall time is what it is, from the measured numbers."""
    st, why, n = r["profile"]["stages"], r["profile"]["why"], r["profile"]["samples"]
    cal = next(v for k, v in st.items() if k.startswith("int8: calibration"))
    before = next(v for k, v in why.items() if "the path before" in k)
    imports = st["import torch"] + st["import tensorflow + onnx2tf"]
    rest = sum(st.values()) - cal - imports
    return [
        f"Calibration is no longer the floor: {cal:.1f} s for {n} images on XNNPACK (in-graph min/max reductions, "
        f"`quantization/observer.py`), against {before:.1f} s with TFLite's calibrator on every core. What is left "
        f"is fixed cost: importing torch and TensorFlow takes {imports:.1f} s (TensorFlow alone "
        f"{st['import tensorflow + onnx2tf']:.1f} s; it and torch both hold the GIL while importing, so a thread "
        "cannot overlap them), and the ONNX export, onnx2tf's graph building and TFLite's float conversion add "
        f"{rest:.1f} s more.",
    ]


def _stage(row: dict, prefix: str, key: str) -> float:
    return max((s[key] for s in row.get("stages", []) if s["stage"].startswith(prefix)), default=0.0)


def _estimate(row: dict) -> float:
    """The estimate of ``edgenet/converters/memory.py`` as it is now (fitted to these rows) for a measured row."""
    from edgenet.converters.memory import BASE_MB, PER_ACTIVATION, PER_WEIGHT

    return BASE_MB + PER_WEIGHT * row["weights_mb"] + PER_ACTIVATION * row["activations_mb"]


def render_family(f: dict) -> list[str]:
    """The --family table: seconds and peak memory per variant, and what the goals say about B0 and B7."""
    rows = {r["model"]: r for r in f["models"]}
    stick = rows.get("b0", {}).get("yardstick_seconds")
    lines = [
        "## The whole family (fp32 + int8, 100 calibration images, native sizes)",
        "",
        "Produced by `python benchmarks/convert_bench.py --family`: each variant converted by `edgenet convert "
        "--model M --int8 --calib-samples 100` in a fresh process (random weights; calibration on "
        f"`{Path(f['calib_data']).name}`). Machine: {f['env']['cpu']}, {f['env']['cores']} cores; load average "
        f"before/after {f['env']['loadavg_before'][0]:.1f} / {f['env']['loadavg_after'][0]:.1f}. Peak: the largest "
        "stage peak of report.json's `stages` (each stage's resident high-water mark). Estimate: what "
        "convert predicts before it starts (`converters/memory.py`, whose coefficients were fitted to "
        "this table's peaks: weights and one image's activations per model are in convert-family.json). "
        "litert-torch: its fp32 conversion of the same PyTorch module (`litert_torch.convert`, no int8, its own "
        "venv), wall seconds of a fresh process and its peak (`wait4`).",
        "",
    ]
    if stick:
        lines += [f"Yardstick (100 single-thread invokes of the B0 fp32 `.tflite`, same run): **{stick:.2f} s**.", ""]
    lines += [
        "| model | px | wall s | yardsticks | onnx s | float graph s | calibration s | int8 s | peak MB "
        "| peak's stage "
        "| calibration peak MB | estimate MB | litert-torch fp32 s (peak MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in f["models"]:
        if r["exit"] != 0:
            lines.append(f"| {r['model']} | failed (exit {r['exit']}) after {r['wall_seconds']} s |" + " |" * 11)
            continue
        lt = r.get("litert_torch")
        lt_cell = (
            ""
            if lt is None
            else (
                f"{lt['wall_seconds']:.1f} ({lt['peak_rss_mb']:,})"
                if lt["exit"] == 0
                else f"failed (exit {lt['exit']})"
            )
        )
        yard = f"{r['wall_seconds'] / stick:.1f}" if stick else ""
        lines.append(
            f"| {r['model']} | {r['resolution']} | {r['wall_seconds']:.1f} | {yard} "
            f"| {_stage(r, 'onnx', 'seconds'):.1f} "
            f"| {_stage(r, 'float graph', 'seconds'):.1f} | {_stage(r, 'calibration', 'seconds'):.1f} "
            f"| {_stage(r, 'int8', 'seconds'):.1f} | {r['peak_rss_mb']:,} "
            f"| {max(r['stages'], key=lambda s: s['peak_rss_mb'])['stage']} "
            f"| {_stage(r, 'calibration', 'peak_rss_mb'):,.0f} | {_estimate(r):,.0f} | {lt_cell} |"
        )
    return [*lines, "", *_family_goals(rows, stick), ""]


def _family_goals(rows: dict, stick: float | None) -> list[str]:
    """The issue's goals against this run's numbers, met or not."""
    out = []
    b0, b7 = rows.get("b0"), rows.get("b7")
    if b0 and b0["exit"] == 0 and stick:
        y = b0["wall_seconds"] / stick
        ok = b0["wall_seconds"] <= 10 and y <= 8
        out.append(
            f"- B0 224, fp32 + int8: **{b0['wall_seconds']:.1f} s**, {y:.1f} yardsticks (goal ≤ 10 s and ≤ 8 "
            f"yardsticks: {'met' if ok else 'not met'}; 21.3 s before fast-kernel calibration)."
        )
    if b7 and b7["exit"] == 0:
        ok = b7["wall_seconds"] <= 300 and b7["peak_rss_mb"] <= 8192
        out.append(
            f"- B7 600, fp32 + int8: **{b7['wall_seconds'] / 60:.1f} min**, peak **{b7['peak_rss_mb'] / 1024:.1f} GB** "
            f"(goal ≤ 5 min and ≤ 8 GB: {'met' if ok else 'not met'}; 23 minutes and 8.3 GB before, measured "
            "under load)."
        )
    return out


def render(r: dict, family: dict | None = None) -> str:
    lines = [
        "# Conversion benchmark (b0, 224 px, 1000 classes)",
        "",
        "Produced by `python benchmarks/convert_bench.py` — numbers below are from that run, not edited.",
        "",
        f"Machine: {r['env']['cpu']}, {r['env']['cores']} cores; load average before/after "
        f"{r['env']['loadavg_before'][0]:.1f} / {r['env']['loadavg_after'][0]:.1f}.",
        "",
        "## Conversion time",
        "",
        f"`edgenet convert --model b0 --int8 --calib-samples 100` wall time (process start to exit): "
        f"**{r['convert_wall_seconds']:.1f} s**, {r['convert_wall_seconds'] / r['yardstick_seconds']:.1f} yardsticks "
        f"(one yardstick: 100 single-thread invokes of this B0's fp32 `.tflite`, {r['yardstick_seconds']:.2f} s in "
        "the same run). Goal ≤ 10 s and ≤ 8 yardsticks; 21.3 s before fast-kernel calibration, 31.0 s before the "
        "staged pipeline.",
        "",
        "Each stage, as report.json records it (`stages`: seconds and the stage's peak resident memory):",
        "",
        "| stage | seconds | peak MB |",
        "|---|---|---|",
        *[f"| {s['stage']} | {s['seconds']:.2f} | {s['peak_rss_mb']:,.0f} |" for s in r["stages"]],
        "",
        f"### Where the time goes (each stage timed in a fresh process, {r['profile']['samples']} calibration images)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in r["profile"]["stages"].items()],
        f"| **sum** | **{sum(r['profile']['stages'].values()):.2f}** |",
        "",
        "What the stages replaced, or could be replaced by (same process, same inputs):",
        "",
        "| alternative | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.2f} |" for k, v in r["profile"]["why"].items()],
        "",
        *_floor(r),
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
    if family is not None:
        lines += render_family(family)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
