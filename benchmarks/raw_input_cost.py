"""What the raw-pixel input (``convert --input raw``) costs: accuracy, latency and Edge TPU mapping, measured.

The pretrained Lite0 is converted twice with uint8 I/O, once with the normalization inside the graph (input: RGB
0–255, scale 1 / zero point 0) and once without (input: quantized normalized values), from the same 100
calibration photos (ImageNet classes whose index is a multiple of 10). Every artefact is scored on the other 900
photos of ``imagenet-sample`` the way ``edgenet eval --model-file`` does it (preprocessing from the report.json
beside the model), so the paired difference between the two int8 models — the cost of quantizing the first layer
from pixels — comes with its 95 % interval. Latency: 1 thread, XNNPACK, interleaved rounds (taken under
/tmp/edgenet-latency.lock so no other measurement runs at the same time). Also recorded: pycoral's raw-pixel test
(``|scale·std − 1| < 1e-5`` and ``|mean − zero_point| < 1e-5`` from the bundled model's input quantization and
metadata) and the Edge TPU op mapping (compiled when ``edgetpu_compiler`` exists, else edgenet's prediction).

    python benchmarks/raw_input_cost.py [--model lite0] [--eval-images N] [--runs 100]

Writes docs/benchmarks/raw_input.json and raw_input.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, paired_drop
from edgenet.device_bench.latency import tflite_latency
from imagenet_pretrained import SAMPLE, split

ROOT = Path(__file__).resolve().parents[1]
LOCK = "/tmp/edgenet-latency.lock"
INPUTS = ("normalized", "raw")


def pycoral_condition(bundled: Path) -> dict:
    """pycoral classify_image.py's test for feeding pixels unchanged, from the model itself (every channel)."""
    from edgenet.converters.metadata import read_metadata

    from edgenet.artifacts.tflite_model import read_tflite

    t = read_tflite(bundled).input_details[0]
    norm = read_metadata(bundled)["inputs"][0]["normalization"]
    scale, zp = t.scale[0], t.zero_point[0]
    ok = all(abs(scale * s - 1) < 1e-5 and abs(m - zp) < 1e-5 for m, s in zip(norm["mean"], norm["std"], strict=True))
    return {"scale": scale, "zero_point": zp, "mean": norm["mean"], "std": norm["std"], "raw_pixels_ok": ok}


def convert_one(name: str, kind: str, args, cal: Path) -> Path:
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.loading import load_model
    from edgenet.workflows.bundle import bundle

    out = args.work / f"{name}-{kind}"
    log(f"{name}: convert --int8 --int8-io uint8 --input {kind} --edgetpu")
    opts = ConvertOptions(
        out=out, int8=True, int8_io="uint8", input=kind, edgetpu=True, calib_data=cal,
        calib_samples=args.calib_samples,
    )  # fmt: skip
    convert(load_model(name, pretrained=True), opts)
    for f in ("model_int8.tflite", "model_fp32.tflite"):
        bundle(out / f, out / "bundle")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lite0")
    p.add_argument("--data", type=Path, default=SAMPLE)
    p.add_argument("--calib-samples", type=int, default=100)
    p.add_argument("--eval-images", type=int, help="score only this many classes (a quick run)")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "raw-input")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = p.parse_args()
    from edgenet.artifacts.scoring import agreement, load_artifact, load_eval_set, score
    from edgenet.evaluate import torch_predict
    from edgenet.loading import load_model

    t0 = time.perf_counter()
    cal, ev = split(args.data, args.work, 10, args.eval_images)
    outs = {k: convert_one(args.model, k, args, cal) for k in INPUTS}
    loaded = load_model(args.model, pretrained=True)
    rows, preds, correct = [], {}, {}
    sets = {}
    for kind in INPUTS:
        for art in ("fp32", "int8"):
            path = outs[kind] / f"model_{art}.tflite"
            runner, pre, classes = load_artifact(path, threads=2)  # what `edgenet eval --model-file` does
            if pre.input not in sets:
                log(f"preprocessing {ev} for {pre.input} input")
                sets[pre.input] = load_eval_set(ev, pre, classes, loaded.num_classes)
            es = sets[pre.input]
            log(f"scoring {path.relative_to(args.work)} on {es.n} photos")
            result, pred = score(es, runner)
            key = f"{art} {kind}"
            preds[key], correct[key] = pred, pred == _targets(es)
            rows.append({"artefact": key, "file": str(path.relative_to(args.work)), "top1": result.top1,
                         "top5": result.top5, "n": result.n})  # fmt: skip
    es = sets["normalized"]
    result, pred = score(es, torch_predict(loaded.model))
    preds["torch"], correct["torch"] = pred, pred == _targets(es)
    rows.insert(0, {"artefact": "torch", "file": "-", "top1": result.top1, "top5": result.top5, "n": result.n})
    for r in rows:
        r["agree_torch"] = agreement(preds[r["artefact"]], preds["torch"])
        r["drop_vs_torch"], r["ci95"] = paired_drop(correct["torch"], correct[r["artefact"]])
    raw_vs_norm = paired_drop(correct["int8 normalized"], correct["int8 raw"])

    files = {f"{art} {k}": outs[k] / f"model_{art}.tflite" for k in INPUTS for art in ("fp32", "int8")}
    log(f"latency, 1 thread, {args.runs} runs each (waiting for {LOCK})")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        load_before = loadavg()
        lat = tflite_latency(files, args.runs, threads=1)
        load_after = loadavg()
    for r in rows:
        r.update(lat.get(r["artefact"], {}))
    extra = {}
    for k in INPUTS:
        rep = json.loads((outs[k] / "report.json").read_text())
        e = rep.get("edgetpu") or {}
        extra[k] = {
            "pycoral": pycoral_condition(outs[k] / "bundle" / "model_int8.tflite"),
            "edgetpu": {key: e.get(key) for key in ("compiled", "message", "counts", "compiler_version")},
            "input": rep["artifacts"][-1]["input_dtype"],
            "int8_ops": rep["artifacts"][-1]["ops"],
        }
    result = {
        "command": "python benchmarks/raw_input_cost.py"
        + (f" --eval-images {args.eval_images}" if args.eval_images else ""),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "loadavg_before_latency": load_before,
        "loadavg_after_latency": load_after,
        "model": loaded.name,
        "weights": loaded.weights,
        "eval_images": sets["normalized"].n,
        "calibration_images": args.calib_samples,
        "rows": rows,
        "int8_raw_vs_normalized": {"drop": raw_vs_norm[0], "ci95": raw_vs_norm[1]},
        "per_input": extra,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "raw_input.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (args.out / "raw_input.md").write_text(md)
    print(md)


def _targets(es) -> np.ndarray:
    return np.concatenate([np.asarray(b[1]) for b in es.batches()])


def render(r: dict) -> str:
    lines = [
        f"# Raw-pixel input: what it costs ({r['model']}, uint8 I/O)",
        "",
        f"`{r['command']}` — {r['date']}, {r['cpu']} (a shared 2-core machine; load average "
        f"{r['loadavg_before_latency']} before and {r['loadavg_after_latency']} after the latency rounds). "
        f"{r['eval_images']} ImageNet-sample photos scored, {r['calibration_images']} others calibrate.",
        "",
        "| artefact | top-1 | top-5 | drop vs torch (95 % CI) | agree torch | p50 ms (1 thr) | p90 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        p50 = f"{row['p50_ms']:.2f}" if "p50_ms" in row else "—"
        p90 = f"{row['p90_ms']:.2f}" if "p90_ms" in row else "—"
        lines.append(
            f"| {row['artefact']} | {100 * row['top1']:.2f} % | {100 * row['top5']:.2f} % | "
            f"{row['drop_vs_torch']:+.2f} ± {row['ci95']:.2f} | {100 * row['agree_torch']:.1f} % | {p50} | {p90} |"
        )
    d = r["int8_raw_vs_normalized"]
    lines += [
        "",
        f"int8 raw vs int8 normalized, paired on the same photos: {d['drop']:+.2f} ± {d['ci95']:.2f} points "
        "(positive: raw input loses).",
        "",
        "| input | uint8 input scale / zero point | metadata mean / std | pycoral feeds pixels as-is | Edge TPU |",
        "|---|---|---|---|---|",
    ]
    for k, v in r["per_input"].items():
        pc, e = v["pycoral"], v["edgetpu"]
        c = e.get("counts") or {}
        tpu = f"{'compiled' if e.get('compiled') else 'predicted (no edgetpu_compiler here)'}: "
        tpu += f"{c.get('edgetpu')}/{c.get('total')} ops on the TPU"
        lines.append(
            f"| {k} | {pc['scale']:.6g} / {pc['zero_point']} | {pc['mean']} / {pc['std']} | "
            f"{'yes' if pc['raw_pixels_ok'] else 'no'} | {tpu} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
