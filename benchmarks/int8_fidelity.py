"""int8 fidelity benchmark: how much accuracy int8 costs b0 and lite0 on CIFAR-10, and what each fix buys back.

For each checkpoint (the training benchmark's ``runs/bench-cifar10/<model>/last.pt`` by default), on the CIFAR-10
test images (all 10,000 unless ``--eval-images``):

- torch fp32, TFLite fp32, int8 as ``edgenet convert --int8`` makes it (per-channel weights, int8 I/O, 200
  calibration images from the training split);
- int8 with each fix: 4× calibration images, float fallback of the 1 and 3 worst layers of the per-layer report
  (``--keep-float``), 16×8 (``--int16-act``), and for SiLU models the activation swap (fine-tune with ReLU6 or
  hard-swish for ``--swap-epochs`` on ``--swap-images`` training images, then convert) beside the same fine-tune
  keeping SiLU (the control: an undertrained checkpoint gains from any extra training);
- top-1, drop in points vs torch fp32, top-1 agreement with torch fp32, model size, latency at 1 thread
  (ai-edge-litert/XNNPACK, rounds of 10 interleaved across every artefact of the model; median and p90);
- the per-layer report's worst layers, which are what ``--keep-float`` keeps float.

    python benchmarks/int8_fidelity.py [--b0 CKPT] [--lite0 CKPT] [--eval-images 200] [--swap-epochs 1]

Without the training benchmark's checkpoints, train both first (seeded, 32 px, N images per class) with
``python benchmarks/int8_fidelity.py --train 500`` (writes runs/int8-fidelity/<model>/last.pt and exits).

Writes docs/benchmarks/int8.md and int8.json (numbers as measured; the machine's load average is recorded).
"""

from __future__ import annotations

import argparse
import ast
import faulthandler
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import cpu_model, loadavg, log, paired_drop, subset, write_results
from edgenet.device_bench.latency import tflite_latency, torch_latency

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def convert_float(loaded, work: Path, parity_x: np.ndarray):
    """The float graph (ONNX, fp32 TFLite, both checked), exactly as ``edgenet convert`` builds it."""
    from edgenet.converters.graph import export_float

    work.mkdir(parents=True, exist_ok=True)
    return export_float(loaded.model, loaded.name, loaded.preprocess.resolution, work, parity_x)


def build(kind: str, graph, samples: np.ndarray) -> bytes:
    """An artefact through the same stage ``edgenet convert`` runs (int8 I/O, the reference quantizer)."""
    from edgenet.converters.kinds import BuildContext
    from edgenet.converters.pipeline import build_artifact
    from edgenet.quantization.recipe import Int8Recipe

    return build_artifact(kind, BuildContext(graph, samples, Int8Recipe("tflite")))[0]


def swap_activation(ckpt: Path, act: str, data: Path, epochs: int, lr: float, out: Path) -> Path:
    """Fine-tune ``ckpt`` with another activation: ``edgenet train --checkpoint CKPT --act ACT`` as a user runs it.

    A separate process: in this one TensorFlow is loaded, and PyTorch training next to it ran ~8× slower here.
    """
    exe = str(Path(sys.executable).parent / "edgenet")
    cmd = [exe, "train", "--checkpoint", str(ckpt), "--act", act, "--data", str(data), "--epochs", str(epochs)]
    cmd += ["--batch-size", "64", "--recipe", "finetune", "--lr", str(lr), "--val-split", "0", "--workers", "1"]
    cmd += ["--augment", "none", "--min-crop", "0.35"]  # the training benchmark's own settings
    cmd += ["--seed", "0", "--out", str(out), "-q"]
    log(f"  {' '.join(cmd[1:])}")
    subprocess.run(cmd, check=True)
    return out / "last.pt"


def train_checkpoints(args) -> None:
    """b0 and lite0 from scratch with one seeded recipe (fine-tuning recipe: AdamW, cosine; no augmentation)."""
    from edgenet.training import TrainConfig, train

    out = ROOT / "runs" / "int8-fidelity"
    data = out / f"train-{args.train}"
    if not data.exists():
        subset(args.data / "train", data, args.train)
    for name in ("b0", "lite0"):
        log(f"training {name}: {args.img_size} px, {args.train} images per class, {args.train_epochs} epochs")
        cfg = TrainConfig(
            data=str(data),
            out=str(out / name),
            model=name,
            img_size=args.img_size,
            epochs=args.train_epochs,
            batch_size=32,
            recipe="finetune",
            lr=3e-3,
            augment="none",
            min_crop=0.5,
            val_split=0.0,
            workers=2,
            progress=False,
            seed=0,
        )
        result = train(cfg, log=lambda m: log(f"  {m}"))
        if result.interrupted:
            sys.exit(f"{name}: interrupted; continue with `edgenet train --out {out / name} --resume`")
        log(f"{name}: {result.last}")


def bench_model(name: str, ckpt: Path, args, work: Path) -> dict:
    from edgenet.quantization.calibration import Calibration, from_folder
    from edgenet.quantization.debugger import analyse
    from edgenet.quantization.fixes import float_tensors, worst_layers
    from edgenet.quantization.quantizers import get_quantizer

    from edgenet.artifacts.scoring import Scorer, agreement, load_eval_set
    from edgenet.loading import load_model

    t_model = time.perf_counter()
    loaded = load_model(checkpoint=ckpt)
    pre, act = loaded.preprocess, loaded.model.config.act
    log(f"{name}: {loaded.name} @ {pre.resolution}px, act {act}; converting")
    cal = from_folder(args.data / "train", pre, args.calib_samples)
    graph = convert_float(loaded, work, cal.samples[:8])
    q = get_quantizer("tflite")
    calibrated = Calibration(graph.fp32, cal.samples).model(q)
    a = analyse(q, graph.fp32_path, graph.onnx_path, calibrated, cal.samples)

    files: dict[str, Path] = {"tflite fp32": work / "model_fp32.tflite"}
    meta: dict[str, dict] = {"tflite fp32": {"fix": "-", "full_integer": False}}

    def add(label: str, data: bytes, fix: str, full_integer: bool, **extra) -> None:
        path = work / f"{label.replace(' ', '_').replace('×', 'x')}.tflite"
        path.write_bytes(data)
        files[label] = path
        meta[label] = {"fix": fix, "full_integer": full_integer, **extra}

    log(f"{name}: int8 and fixes")
    add("int8", build("int8", graph, cal.samples), "none (convert --int8)", True)
    more = from_folder(args.data / "train", pre, 4 * args.calib_samples)
    add(
        f"int8 calib×{len(more.samples)}",
        build("int8", graph, more.samples),
        f"--calib-samples {len(more.samples)}",
        True,
    )
    for n in (1, 3):
        worst = worst_layers(a.layers, n)
        tensors = float_tensors(worst, a.fp32, a.locations)
        add(f"int8 keep-float {n}", q.int8(calibrated, "int8", tensors), f"--keep-float {n}", False, kept=worst)
    add("int16x8", build("int16", graph, cal.samples), "--int16-act", False)

    log(f"{name}: scoring on the test images")
    es = load_eval_set(args.eval_dir, pre, loaded.classes, loaded.num_classes)
    scorer = Scorer(es, loaded.model)
    labels = np.concatenate([np.asarray(y) for _, y, _ in es.batches()])
    ref_correct = scorer.torch_pred == labels
    preds: dict[str, np.ndarray] = {"torch fp32": scorer.torch_pred}
    rows = [
        {
            "artefact": "torch fp32",
            "fix": "-",
            "top1": scorer.torch.top1,
            "agreement": 1.0,
            "bytes": None,
            "full_integer": False,
        }
    ]
    for label, path in files.items():
        result, preds[label] = scorer.predictions(path)
        agree = agreement(preds[label], scorer.torch_pred)
        rows.append(
            {
                "artefact": label,
                **meta[label],
                "top1": result.top1,
                "agreement": agree,
                "bytes": path.stat().st_size,
            }
        )

    if act == "silu" and args.swap_epochs > 0:
        for new_act in args.swap_acts:
            log(f"{name}: fine-tuning with {new_act} ({args.swap_epochs} epoch(s) on {args.swap_dir})")
            t0 = time.perf_counter()
            swapped = swap_activation(
                ckpt, new_act, args.swap_dir, args.swap_epochs, args.swap_lr, work / f"swap_{new_act}"
            )
            tuned_s = time.perf_counter() - t0
            kept = ROOT / "runs" / "int8-fidelity" / f"{name}-{new_act}-ft" / "last.pt"  # for --b0 runs of its own
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(swapped, kept)
            log(f"{name}: converting and scoring the {new_act} model")
            sl = load_model(checkpoint=swapped)
            sw = work / f"swap_{new_act}_convert"
            s_cal = cal if sl.preprocess == pre else from_folder(args.data / "train", sl.preprocess, args.calib_samples)
            s_graph = convert_float(sl, sw, s_cal.samples[:8])
            (sw / "model_int8.tflite").write_bytes(build("int8", s_graph, s_cal.samples))
            s_scorer = Scorer(es, sl.model)
            control = new_act == act  # the same fine-tune without a swap: what the extra training alone buys
            kind = "fine-tune (control)" if control else "swap"
            how = f"train --act {new_act}, {args.swap_epochs} ep. × {args.swap_images}/class"
            own_correct = s_scorer.torch_pred == labels
            for label, path, full in (
                (f"{new_act} {kind} fp32", sw / "model_fp32.tflite", False),
                (f"{new_act} {kind} int8", sw / "model_int8.tflite", True),
            ):
                result, pred = s_scorer.predictions(path)
                preds[label] = pred
                own_drop, own_ci = paired_drop(own_correct, pred == labels)
                agree_own, agree_orig = agreement(pred, s_scorer.torch_pred), agreement(pred, scorer.torch_pred)
                files[label] = path
                rows.append(
                    {
                        "artefact": label,
                        "fix": f"{how} ({tuned_s / 60:.1f} min)",
                        "full_integer": full,
                        "top1": result.top1,
                        "agreement": agree_orig,
                        "agreement_own_float": agree_own,
                        "drop_own_float": own_drop,
                        "drop_own_float_ci95": own_ci,
                        "swap_act": new_act,
                        "control": control,
                        "swap_torch_top1": s_scorer.torch.top1,
                        "bytes": path.stat().st_size,
                    }
                )

    log(f"{name}: latency at 1 thread")
    lat = tflite_latency(files, args.runs)
    lat["torch fp32"] = torch_latency(loaded.model, pre.resolution, args.runs)
    for r in rows:
        r["drop"], r["drop_ci95"] = paired_drop(ref_correct, preds[r["artefact"]] == labels)
        r.update(lat[r["artefact"]])
    top = [
        {k: getattr(e, k) for k in ("rank", "layer", "op", "sqnr_db", "channel_sqnr_db", "rmse_over_scale")}
        for e in a.layers[:8]
    ]
    return {
        "model": loaded.name,
        "checkpoint": str(ckpt),
        "checkpoint_sha256": hashlib.sha256(Path(ckpt).read_bytes()).hexdigest()[:16],
        "act": act,
        "resolution": pre.resolution,
        "eval_images": es.n,
        "calib_samples": len(cal.samples),
        "rows": rows,
        "worst_layers": top,
        "quantized_tensors": len(a.layers),
        "seconds": round(time.perf_counter() - t_model, 1),
    }


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    runs = ROOT / "runs" / "bench-cifar10"
    ap.add_argument("--b0", type=Path, default=runs / "b0" / "last.pt")
    ap.add_argument("--lite0", type=Path, default=runs / "lite0" / "last.pt")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cifar10")
    ap.add_argument("--calib-samples", type=int, default=200)
    ap.add_argument("--eval-images", type=int, help="test images per class [all 1,000]")
    ap.add_argument("--swap-images", type=int, default=2000, help="training images per class for the act swap")
    ap.add_argument("--swap-epochs", type=int, default=1, help="0 skips the activation swap")
    ap.add_argument(
        "--swap-acts",
        default="silu,relu6,hardswish",
        help="comma-separated: relu6, hardswish; the model's own act (silu) is the control fine-tune",
    )
    ap.add_argument("--swap-lr", type=float, default=1e-3, help="AdamW learning rate of the swap fine-tune")
    ap.add_argument("--runs", type=int, default=50, help="latency runs per artefact")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    ap.add_argument("--train", type=int, metavar="N", help="train b0 and lite0 on N images per class, then exit")
    ap.add_argument("--train-epochs", type=int, default=4)
    ap.add_argument("--img-size", type=int, default=32, help="for --train")
    ap.add_argument("--models", default="b0,lite0", help="comma-separated: which of --b0/--lite0 to run")
    ap.add_argument(
        "--render", type=Path, metavar="JSON", help="rewrite the .md beside a recorded int8.json, then exit"
    )
    return ap


def command(recorded: dict[str, str]) -> str:
    """The command that produced a recorded run: the script and each option whose recorded value is not its default."""
    parts = ["python benchmarks/int8_fidelity.py"]
    for action in parser()._actions:
        value = recorded.get(action.dest)
        if not action.option_strings or value is None or value == "None" or action.dest == "render":
            continue
        if value.startswith("["):  # lists were recorded after splitting "a,b"
            value = ",".join(ast.literal_eval(value))
        default = "None" if action.default is None else str(action.default)
        if _shown(value) != _shown(default):
            parts.append(f"{action.option_strings[0]} {_shown(value)}")
    return " ".join(parts)


def main() -> None:
    args = parser().parse_args()
    if args.render:
        args.render.with_suffix(".md").write_text(render(json.loads(args.render.read_text())))
        return
    if args.train:
        train_checkpoints(args)
        return
    args.swap_acts = [a for a in args.swap_acts.split(",") if a]
    args.models = [m for m in args.models.split(",") if m]
    for name in args.models:
        if not getattr(args, name).is_file():
            sys.exit(f"{getattr(args, name)}: checkpoint not found; run benchmarks/train_cifar10.py or pass --{name}")

    import edgenet.artifacts.scoring  # noqa: F401  (torchvision before TensorFlow: the other order segfaults)
    from edgenet.quiet import native_stderr_captured, quiet_tensorflow

    quiet_tensorflow()
    work = Path(tempfile.mkdtemp(prefix="int8-bench-"))
    args.eval_dir = (
        subset(args.data / "test", work / "eval", args.eval_images) if args.eval_images else args.data / "test"
    )
    args.swap_dir = subset(args.data / "train", work / "swap", args.swap_images)
    started, load_before, t0 = datetime.now(timezone.utc), loadavg(), time.perf_counter()
    with native_stderr_captured():
        faulthandler.enable(sys.stderr)  # TF's native logging is hidden here; a crash must still say where
        models = {name: bench_model(name, getattr(args, name), args, work / name) for name in args.models}
    import ai_edge_litert
    import tensorflow as tf
    import torch

    result = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "env": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "tensorflow": tf.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
        },
        "args": {k: str(v) for k, v in vars(args).items()},
        "models": models,
    }
    write_results(args.out, "int8", result, render)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _shown(path: str) -> str:
    """A path inside the checkout relative to it: the doc is read on other machines."""
    p = Path(path)
    return str(p.relative_to(ROOT)) if p.is_absolute() and p.is_relative_to(ROOT) else path


def _drop(row: dict) -> str:
    return f"{row['drop']:+.2f} ± {row['drop_ci95']:.2f}"


def goal_line(m: dict, bound: float) -> str:
    """Whether plain int8 meets the bound, else the first fix that does (full-integer ones first) and its cost."""
    plain = {row["artefact"]: row for row in m["rows"]}["int8"]
    line = f"- {m['model']}: plain int8 drop {_drop(plain)} points (goal ≤ {bound}): "
    if plain["drop"] <= bound:
        upper = plain["drop"] + plain["drop_ci95"]
        return (
            line
            + "**met without a fix**"
            + ("." if upper <= bound else f" at the point estimate; its 95 % interval reaches {upper:.2f}.")
        )
    fixed = [
        row
        for row in m["rows"]
        if row["drop"] <= bound and not row["artefact"].endswith("fp32") and not row.get("control")
    ]
    full = [row for row in fixed if row["full_integer"]]
    best = (full or fixed or [None])[0]
    if best is None:
        return line + "**not met** by any fix measured here."
    kind = "full-integer" if best["full_integer"] else "not full-integer (no Edge TPU)"
    return (
        line + f"met by **{best['artefact']}** ({best['fix']}; {kind}), drop {_drop(best)}, "
        f"latency {best['p50_ms']:.2f} ms = {best['p50_ms'] / plain['p50_ms']:.2f}× plain int8"
        + ("" if full else "; no full-integer fix met it")
    )


def swap_line(m: dict) -> str | None:
    """The activation swap against the same fine-tune keeping SiLU: each one's int8 drop below its own float."""
    swaps = [row for row in m["rows"] if row.get("swap_act") and row["full_integer"]]
    if not swaps:
        return None
    parts = [
        f"{'SiLU kept (control)' if r['control'] else r['swap_act']} {r['drop_own_float']:+.2f} ± "
        f"{r['drop_own_float_ci95']:.2f} at {r['p50_ms']:.2f} ms"
        for r in swaps
    ]
    budget = swaps[0]["fix"].split(", ", 1)[-1]
    return (
        f"- {m['model']} after one more fine-tuning epoch ({budget}), int8 drop below that model's own "
        f"float: {'; '.join(parts)}."
    )


def goals(models: dict) -> list[str]:
    """The issue's goals, checked against the measured rows: Lite0 drop ≤ 0.3, B0 drop ≤ 1.0 (full-integer if any)."""
    lines = []
    for name, bound in (("lite0", 0.3), ("b0", 1.0)):
        if name in models:
            lines += [goal_line(models[name], bound), *filter(None, [swap_line(models[name])])]
    if "b0" in models and "lite0" in models:
        b0 = {row["artefact"]: row for row in models["b0"]["rows"]}["int8"]
        lite = {row["artefact"]: row for row in models["lite0"]["rows"]}["int8"]
        lines.append(
            f"- Lite instead of B0: lite0 int8 {100 * lite['top1']:.2f} % at {lite['p50_ms']:.2f} ms vs b0 int8 "
            f"{100 * b0['top1']:.2f} % at {b0['p50_ms']:.2f} ms (1 thread, measured here)."
        )
    return lines


def render(r: dict) -> str:
    env = r["env"]
    out = [
        "# int8 fidelity (CIFAR-10)",
        "",
        f"Produced by `{command(r['args'])}` — every number below is from that run, not edited.",
        "",
        "Every quantizer × calibration method (`--quantizer`, `--calibration`) on the same images: "
        "[int8-methods.md](int8-methods.md) (`python benchmarks/int8_methods.py --suite cifar`).",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; load average before/after "
        f"{env['loadavg_before'][0]} / {env['loadavg_after'][0]} (other jobs were running: latencies are relative). "
        f"TF {env['tensorflow']}, torch {env['torch']}, ai-edge-litert {env['ai_edge_litert']}. "
        f"Run took {r['seconds'] / 60:.1f} min.",
        "",
        "## Goals (computed from the tables below)",
        "",
        *goals(r["models"]),
        "",
    ]
    for m in r["models"].values():
        out += [
            f"## {m['model']} ({m['act']}, {m['resolution']} px)",
            "",
            f"Checkpoint `{_shown(m['checkpoint'])}` (sha256 {m['checkpoint_sha256']}…); "
            f"{m['eval_images']} test images; "
            f"{m['calib_samples']} calibration images from the training split. "
            "Drop: points below torch fp32, ± the 95 % interval of the paired difference on these images. "
            "Agreement: same top-1 as torch fp32.",
            "",
            "| artefact | fix | full-integer | top-1 % | drop | agreement % | size MB | p50 ms | p90 ms |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in m["rows"]:
            size = f"{row['bytes'] / 1e6:.2f}" if row["bytes"] else "-"
            out.append(
                f"| {row['artefact']} | {row['fix']} | {'yes' if row['full_integer'] else 'no'} "
                f"| {_pct(row['top1'])} | {_drop(row)} | {_pct(row['agreement'])} | {size} "
                f"| {row['p50_ms']:.2f} | {row['p90_ms']:.2f} |"
            )
        kept = {row["artefact"]: row.get("kept") for row in m["rows"] if row.get("kept")}
        out += [
            "",
            f"Per-layer report (`edgenet quant-report`), worst of {m['quantized_tensors']} quantized tensors:",
            "",
            "| # | layer | op | SQNR dB | channel SQNR dB | RMSE/scale |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {e['rank']} | {e['layer']} | {e['op']} | {e['sqnr_db']} | {e['channel_sqnr_db']} | "
            f"{e['rmse_over_scale']} |"
            for e in m["worst_layers"]
        ]
        out += ["", *[f"- {k} keeps float: {', '.join(v)} (and the layers that read them)" for k, v in kept.items()]]
        for row in m["rows"]:
            if "swap_torch_top1" in row and row["full_integer"]:
                what = "the same fine-tune keeping SiLU" if row["control"] else f"{row['swap_act']} swap"
                out.append(
                    f"- {what}: the fine-tuned PyTorch model scores {_pct(row['swap_torch_top1'])} %; its int8 "
                    f"{_pct(row['top1'])} %, drop {row['drop_own_float']:+.2f} ± {row['drop_own_float_ci95']:.2f} "
                    f"below its own float, agreement {_pct(row['agreement_own_float'])} % with it."
                )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
