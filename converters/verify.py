"""Numerical checks between two stages: each check is data (name, expected, actual, passed), never a print."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgenet.errors import VerificationError

# Floors a quantized artefact of trained weights must reach against its reference, or it is not published. They are
# set by what they guard, not by one machine's numbers: real int8 models reach cosine ≥ 0.98 and top-1 agreement
# ≥ 0.96 (pretrained Lite0: TFLite int8 0.995 / 97.9 %, Q/DQ ONNX 0.984 / 96 %); ONNX Runtime's saturating u8s8
# kernels on an AVX2 CPU without VNNI gave 0.69 / 70 % (0.65 / 64 % in the issue); a wrong scale, zero point or
# layout gives ~0 / chance.
MIN_COSINE = 0.9  # mean cosine of the logits on the parity inputs
MIN_AGREEMENT = 0.8  # top-1 agreement with PyTorch on --eval-data
MIN_EVAL_IMAGES = 50  # fewer labelled images than this: agreement is too coarse to hold a model to
ACCEPT_FLAG = "--accept-low-fidelity"


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    actual: float
    passed: bool
    reason: str = ""  # the one line a failure prints, where the generic "check X failed" would not say enough


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
    worst = next((c for c in failed if c.reason), failed[0])
    more = f" (+{len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
    if worst.reason:
        raise VerificationError(f"{worst.reason}{more}")
    raise VerificationError(f"{stage}: check {worst.name} failed: {worst.actual:.4g}, expected {worst.expected}{more}")


def fidelity_check(file: str, kind: str, parity: Parity, floor: float = MIN_COSINE) -> Check:
    """The cosine floor of a quantized artefact: below it the file is kept out of --out, with the flag to accept it."""
    ok = parity.cosine >= floor
    reason = (
        f"{file}: cosine {parity.cosine:.3f} with {parity.reference} on {parity.samples} inputs is below the floor "
        f"{floor} (top-1 agreement {parity.top1_agreement:.0%}): not published, the earlier output is kept; pass "
        f"{ACCEPT_FLAG} to publish it anyway"
    )
    return Check(f"{kind}_cosine", f">= {floor}", parity.cosine, ok, "" if ok else reason)


def agreement_check(file: str, kind: str, agreement: float, n: int, floor: float = MIN_AGREEMENT) -> Check:
    """The top-1 agreement floor on --eval-data (PyTorch's predictions as the reference)."""
    ok = agreement >= floor
    reason = (
        f"{file}: top-1 agreement with PyTorch {agreement:.1%} on {n} images of --eval-data is below the floor "
        f"{floor:.0%}: not published, the earlier output is kept; pass {ACCEPT_FLAG} to publish it anyway"
    )
    return Check(f"{kind}_eval_agreement", f">= {floor}", agreement, ok, "" if ok else reason)


def kernel_fault_check(file: str, kind: str, kernels: Parity, simulated: Parity, cpu: str | None) -> Check | None:
    """Tell a runtime fault from a model fault: the runtime's int8 kernels against the same Q/DQ model simulated in
    float (quantize → float op → dequantize, ONNX Runtime with graph optimizations off). None when both agree."""
    if kernels.cosine >= MIN_COSINE or simulated.cosine < MIN_COSINE:
        return None  # the kernels are fine, or the model itself is off (the fidelity check says so)
    where = f"this CPU ({cpu})" if cpu else "this CPU"
    reason = (
        f"{file}: ONNX Runtime's int8 kernels on {where} disagree with the same model simulated in float (cosine "
        f"{kernels.cosine:.3f} vs {simulated.cosine:.3f} with {kernels.reference}): a runtime fault, not a model "
        f"fault; not published, the earlier output is kept; pass {ACCEPT_FLAG} to publish it anyway"
    )
    return Check(f"{kind}_kernels_vs_simulated", f"cosine >= {MIN_COSINE}", kernels.cosine, False, reason)
