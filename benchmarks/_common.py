"""What every benchmark script records about its machine, and the class-balanced image subsets they run on.

Numbers in docs/ are only comparable with the CPU and the load they were taken under, so each script stores both.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def log(msg: str) -> None:
    """A timestamped progress line on stderr (stdout carries the table)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def subset(src: Path, dest: Path, per_class: int) -> Path:
    """The first ``per_class`` images of every class (sorted; CIFAR's order is random) as symlinks in ``dest``."""
    shutil.rmtree(dest, ignore_errors=True)
    for cls in sorted(p for p in src.iterdir() if p.is_dir()):
        (dest / cls.name).mkdir(parents=True)
        for f in sorted(cls.iterdir())[:per_class]:
            (dest / cls.name / f.name).symlink_to(f.resolve())
    return dest


def paired_drop(ref_correct: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """Drop in points and the half-width of its 95 % interval, from per-image correctness on the same images.

    The two models answer the same images, so the interval comes from the paired differences (only images where
    they disagree contribute): far tighter than two independent binomial intervals, and the honest scale against
    which a 0.3-point goal can be read.
    """
    d = ref_correct.astype(np.float64) - correct.astype(np.float64)
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return round(100 * float(d.mean()), 2), round(100 * float(half), 2)


def mcnemar(ref_correct: np.ndarray, correct: np.ndarray) -> float:
    """Exact two-sided McNemar p-value: are the photos only one model gets right split evenly between the two?"""
    from math import comb

    b, c = int((ref_correct & ~correct).sum()), int((~ref_correct & correct).sum())
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return round(min(1.0, 2 * tail), 4)


def mean_kl(ref_logits: np.ndarray, logits: np.ndarray) -> float:
    """Mean KL(reference ‖ model) of the softmax outputs, in nats: paired and continuous, so it moves with changes
    far too small to flip a top-1 answer on a few hundred images."""

    def log_softmax(z: np.ndarray) -> np.ndarray:
        z = z.astype(np.float64) - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    lp, lq = log_softmax(ref_logits), log_softmax(logits)
    return float((np.exp(lp) * (lp - lq)).sum(1).mean())


def write_results(out: Path, stem: str, result: dict, render) -> str:
    """``out/STEM.json`` (the numbers) and ``out/STEM.md`` (``render(result)``); prints and returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (out / f"{stem}.md").write_text(md)
    print(md)
    return md
