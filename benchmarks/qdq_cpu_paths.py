"""The Q/DQ int8 ONNX on ONNX Runtime's two x86 kernel paths: the measurement behind
``edgenet.converters.tensorrt.qdq_onnx``.

ONNX Runtime runs int8 convolutions as u8s8 GEMMs. With VNNI (AVX-512 VNNI, AVX-VNNI) the products accumulate in
int32; without it (AVX2, AVX-512 without VNNI: many servers and laptops) ``vpmaddubsw`` adds two u8·s8 products in a
saturating int16, and 8-bit weights near ±127 overflow it. This script converts the pretrained Lite0 (100 calibration
photos: ImageNet classes whose index is a multiple of 10) and scores three weight grids of the same activation ranges
against the float ONNX, on the other 900 photos:

* ``8-bit`` — per-channel int8 weights everywhere (``qdq_onnx(form="tensorrt")``, what TensorRT builds from);
* ``7-bit`` — ONNX Runtime's ``reduce_range`` on every weight;
* ``cpu`` — 7-bit weights in the GEMM ops, 8-bit in the depthwise convolutions (``qdq_onnx(form="cpu")``, the
  published ``model_int8_qdq.onnx``);

each through this CPU's int8 kernels, through the same model simulated in float (graph optimizations off: the
model's own numbers), and — under ``qemu-x86_64``, which reports AVX2 without AVX-512 or VNNI whatever the host has —
through the AVX2 kernels on the first ``--avx2-images`` photos (emulation: about 3–20 s an image on 2 cores).
TFLite's full-integer int8 of the same calibration is the yardstick the issue names.

    python benchmarks/qdq_cpu_paths.py [--avx2-images 50] [--eval-images 900]

Writes docs/benchmarks/qdq.json and qdq.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, paired_drop
from imagenet_pretrained import SAMPLE, split

ROOT = Path(__file__).resolve().parents[1]
FORMS = ("8-bit", "7-bit", "cpu")
WORKER = """
import sys, numpy as np, onnxruntime as ort
model, x_path, out_path, simulate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
o = ort.SessionOptions(); o.intra_op_num_threads = 1
if simulate:
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"]); name = s.get_inputs()[0].name
x = np.load(x_path, mmap_mode="r")
np.save(out_path, np.concatenate([s.run(None, {name: np.ascontiguousarray(xi[None])})[0] for xi in x]))
"""


def forms(onnx_path: Path, calib: np.ndarray, work: Path) -> dict[str, Path]:
    """The three weight grids of one calibration (the 7-bit one through ONNX Runtime's own ``reduce_range``)."""
    import onnx
    from edgenet.converters.tensorrt import _Samples, qdq_onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = {"8-bit": work / "qdq_8bit.onnx", "7-bit": work / "qdq_7bit.onnx", "cpu": work / "qdq_cpu.onnx"}
    out["8-bit"].write_bytes(qdq_onnx(onnx_path, calib, form="tensorrt"))
    out["cpu"].write_bytes(qdq_onnx(onnx_path, calib, form="cpu"))
    quant_pre_process(str(onnx_path), str(work / "pre.onnx"))  # as qdq_onnx does
    name = onnx.load_model(str(onnx_path), load_external_data=False).graph.input[0].name
    quantize_static(
        str(work / "pre.onnx"), str(out["7-bit"]), _Samples(name, calib), quant_format=QuantFormat.QDQ,
        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax, reduce_range=True,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )  # fmt: skip
    return out


def logits(model: Path, x_path: Path, out: Path, simulate: bool, prefix: list[str] = ()) -> np.ndarray:
    """Run the worker (under ``prefix``, e.g. qemu) on the saved inputs; logits as an array."""
    cmd = [*prefix, sys.executable, "-c", WORKER, str(model), str(x_path), str(out), "1" if simulate else "0"]
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(out)


def row(name: str, path: str, y: np.ndarray, ref: np.ndarray, out: np.ndarray, yard: np.ndarray | None) -> dict:
    correct = out.argmax(1) == y
    cos = (out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)
    r = {
        "form": name, "path": path, "images": len(y), "top1": round(100 * float(correct.mean()), 2),
        "agreement": round(100 * float((out.argmax(1) == ref.argmax(1)).mean()), 2),
        "cosine": round(float(cos.mean()), 4),
    }  # fmt: skip
    if yard is not None:
        drop, half = paired_drop(yard[: len(y)], correct)
        r["vs_tflite_int8"], r["vs_tflite_int8_ci95"] = -drop, half
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--avx2-images", type=int, default=50)
    ap.add_argument("--eval-images", type=int, default=900)
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgenet-qdq-bench"))
    args = ap.parse_args()
    qemu = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 not found: apt-get install qemu-user-static (it emulates the AVX2-only kernel path)")
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.artifacts.runtime import TFLiteRunner
    from edgenet.cpu import cpu_int8
    from edgenet.loading import load_model
    from edgenet.preprocess import Preprocess

    args.work.mkdir(parents=True, exist_ok=True)
    cal, ev = split(SAMPLE, args.work, 10, args.eval_images)
    log("convert --pretrained lite0 --int8 --int8-io uint8 --tensorrt")
    out = args.work / "lite0"
    opts = ConvertOptions(out, int8=True, int8_io="uint8", tensorrt=True, calib_data=cal)
    report = convert(load_model("lite0", pretrained=True), opts)
    pre = Preprocess.from_dict(report.preprocess)
    paths = sorted(p for d in sorted(ev.iterdir()) for p in sorted(d.iterdir()))
    classes = sorted(p.name for p in SAMPLE.iterdir())
    y = np.array([classes.index(p.parent.name) for p in paths])
    x = np.stack([pre(p) for p in paths]).astype(np.float32)
    calib = np.stack([pre(p) for d in sorted(cal.iterdir()) for p in sorted(d.iterdir())]).astype(np.float32)
    np.save(args.work / "x.npy", x)
    np.save(args.work / "x_avx2.npy", x[: args.avx2_images])
    made = forms(out / "model.onnx", calib, args.work)
    log("float ONNX and TFLite int8 on every photo")
    ref = logits(out / "model.onnx", args.work / "x.npy", args.work / "float.npy", False)
    tfl = TFLiteRunner(out / "model_int8.tflite", 1)(x)
    yard = tfl.argmax(1) == y
    here = cpu_int8()[1]
    rows = [row("TFLite int8", f"XNNPACK, {here}", y, ref, tfl, None)]
    for name in FORMS:
        native = None
        for simulate in (False, True):
            log(f"{name}: {'simulated in float' if simulate else 'int8 kernels'} on {len(y)} photos")
            got = logits(made[name], args.work / "x.npy", args.work / f"{name}-{simulate}.npy", simulate)
            rows.append(row(name, "simulated in float" if simulate else f"kernels, {here}", y, ref, got, yard))
            native = got if native is None else native
        log(f"{name}: AVX2 kernels under qemu on {args.avx2_images} photos")
        got = logits(made[name], args.work / "x_avx2.npy", args.work / f"{name}-avx2.npy", False, [qemu, "-cpu", "max"])
        n = args.avx2_images
        rows.append(row(name, "kernels, AVX2 without VNNI (qemu)", y[:n], ref[:n], got, yard))
        # the same photos through this CPU's kernels: identical logits mean the AVX2 path computes what this one does
        rows[-1]["max_abs_vs_native_kernels"] = float(np.abs(got - native[:n]).max())
    write(rows, here, args)


def write(rows: list[dict], here: str | None, args) -> None:
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(), "cpu_int8": here,
        "loadavg": loadavg(), "model": "efficientnet_lite0 (pretrained, raw uint8 input)", "calibration_images": 100,
    }  # fmt: skip
    docs = ROOT / "docs" / "benchmarks"
    (docs / "qdq.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    head = (
        "| weights | kernel path | photos | top-1 % | vs TFLite int8 (pts, 95 % CI) | agreement with float % | cosine "
        "| max abs Δ vs this CPU's kernels |"
    )
    lines = [
        "# The Q/DQ int8 ONNX on ONNX Runtime's x86 kernel paths",
        "",
        f"Made by `benchmarks/qdq_cpu_paths.py` on {meta['date'][:10]}: {meta['cpu']} ({here}), "
        f"load {meta['loadavg']}; "
        "pretrained Lite0, 100 calibration photos, scored against the float ONNX on the other photos of "
        "imagenet-sample. The AVX2 rows ran under `qemu-x86_64` (AVX2, no AVX-512, no VNNI) on the first photos only; "
        "their last column compares their logits with this CPU's kernels on the same photos (0: the same numbers).",
        "",
        head,
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        vs = f"{r['vs_tflite_int8']:+.2f} ± {r['vs_tflite_int8_ci95']:.2f}" if "vs_tflite_int8" in r else "—"
        lines.append(
            f"| {r['form']} | {r['path']} | {r['images']} | {r['top1']:.2f} | {vs} | {r['agreement']:.1f} | "
            f"{r['cosine']:.4f} | {r.get('max_abs_vs_native_kernels', '—')} |"
        )
    (docs / "qdq.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:]))


if __name__ == "__main__":
    main()
