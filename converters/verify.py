"""Numerical checks between two stages: each check is data (name, expected, actual, passed), never a print."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgenet.errors import VerificationError


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    actual: float
    passed: bool


@dataclass(frozen=True)
class Parity:
    """How closely an artefact's logits follow a reference's on the same inputs."""

    reference: str
    samples: int
    max_abs_diff: float
    top1_agreement: float
    cosine: float
    reference_max_abs: float = 0.0  # scale of the reference logits: near 0, top-1 agreement is noise

    @property
    def degenerate(self) -> bool:
        """Logits ~0 everywhere (e.g. an untrained network in eval mode): top-1 is arbitrary, skip agreement."""
        return self.reference_max_abs < 1e-6


def compare(reference: str, ref: np.ndarray, out: np.ndarray) -> Parity:
    """Max abs diff, top-1 agreement and mean per-sample cosine similarity of two logit batches."""
    ref, out = ref.astype(np.float64), out.astype(np.float64)
    denom = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    cos = np.where(denom > 0, (ref * out).sum(1) / np.maximum(denom, 1e-30), 1.0)
    return Parity(
        reference=reference,
        samples=len(ref),
        max_abs_diff=float(np.abs(ref - out).max()),
        top1_agreement=float((ref.argmax(1) == out.argmax(1)).mean()),
        cosine=float(cos.mean()),
        reference_max_abs=float(np.abs(ref).max()),
    )


def tolerance_check(name: str, parity: Parity, ref: np.ndarray, atol: float, rtol: float) -> Check:
    """Pass when max |a − b| ≤ atol + rtol · max |ref| (scale-aware: logits of trained nets reach ~20)."""
    bound = atol + rtol * float(np.abs(ref).max())
    return Check(name, f"max_abs_diff <= {bound:.3g}", parity.max_abs_diff, parity.max_abs_diff <= bound)


def raise_on_failures(stage: str, checks: list[Check]) -> None:
    """Collect every failed check of a stage, then raise one error naming the worst (largest overshoot)."""
    failed = [c for c in checks if not c.passed]
    if not failed:
        return
    worst = failed[0]
    more = f" (+{len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
    raise VerificationError(f"{stage}: check {worst.name} failed: {worst.actual:.4g}, expected {worst.expected}{more}")
