"""Fixes for int8 accuracy, each built and each measured.

- **selective float fallback** (``--keep-float N|LAYER,...``): the named layers' output tensors stay float. The
  calibrated model is quantized by TF's MLIR quantizer — the very call ``TFLiteConverter`` makes after calibration
  — with those nodes on its denylist. A kept tensor is also *read* in float: its consumers join the denylist,
  because a float tensor read by an int8 op is re-quantized with the same range that hurt it. The result is no
  longer full-integer (Edge TPUs and microcontrollers reject it).
- **another quantizer** (``--quantizer``) and **calibration methods** (``--calibration``, e.g. percentile or
  MSE-optimal clipping of activation ranges): still full-integer, same kernels, same latency; they reuse the one
  calibration (the methods add one histogram pass).
- **more calibration samples**: four times as many, calibrated again.
- **weights rounded before export** (``--bias-correction``, ``--weight-rounding adaround``): a new float graph of
  the rounded network, calibrated and quantized again; still full-integer, same kernels. They cost the most of
  the full-integer fixes (bias correction about a minute, AdaRound minutes), so they come last among them.
- **16×8** (``--int16-act``): int16 activations, int8 weights (TF's own mode; no Edge TPU, slower CPU kernels).
- **activation swap** and **a Lite variant** need training or another architecture: they are recommended, with
  numbers, when nothing cheaper meets the bound (see :func:`recommendations`).

:func:`try_fixes` tries them in order of deployment cost — full-integer first, then the fewest float layers, then
16×8 — and keeps the first whose accuracy drop on the user's labelled data meets ``--max-drop``. Among the
full-integer ones the cheapest to build come first: another quantizer (no new statistics), the calibration methods
(one histogram pass), then more samples (a new calibration).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from edgenet.quantization.debugger import Analysis, LayerError
from edgenet.quantization.layer_names import Location
from edgenet.quantization.quantizers import Quantizer

from edgenet.artifacts.tflite_model import TFLiteModel
from edgenet.errors import EdgenetError, VerificationError
from edgenet.progress import SILENT, Progress

KEEP_FLOAT_STEPS = (1, 2, 4, 8)  # --auto-fix: float fallback of the N worst layers, smallest N first


def layer_labels(layers: Sequence[LayerError]) -> list[str]:
    """Distinct layer labels in execution order (what ``--keep-float`` accepts)."""
    seen: dict[str, None] = {}
    for e in sorted(layers, key=lambda e: e.depth):
        seen.setdefault(e.layer, None)
    return list(seen)


def worst_layers(layers: Sequence[LayerError], n: int) -> list[str]:
    """The labels of the ``n`` worst-ranked layers (a layer with several bad tensors counts once)."""
    out: list[str] = []
    for e in layers:  # ranked, worst first
        if e.layer not in out and e.layer != "?":
            out.append(e.layer)
        if len(out) == n:
            break
    return out


def parse_keep_float(spec: str, layers: Sequence[LayerError]) -> list[str]:
    """``"3"`` → the 3 worst layers; ``"stages.6.0.project,head"`` → those layers (a block or stage prefix such as
    ``stages.6.0`` selects all its layers; a raw TFLite tensor name also works). Unknown names are an error that
    lists the valid ones."""
    spec = spec.strip()
    if spec.isdigit():
        if int(spec) < 1:
            raise EdgenetError("--keep-float 0: give a positive number of layers or layer names")
        return worst_layers(layers, int(spec))
    labels = layer_labels(layers)
    tensors = {e.tensor: e.layer for e in layers}
    chosen: list[str] = []
    unknown = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        hits = [lab for lab in labels if lab == name or lab.startswith(name + ".")]
        if name in tensors:
            hits = [tensors[name]]
        if not hits:
            unknown.append(name)
        chosen += [h for h in hits if h not in chosen]
    if unknown:
        raise EdgenetError(
            f"--keep-float: no layer named {', '.join(unknown)}; valid layers: {', '.join(labels)} "
            "(or a number N for the N worst)"
        )
    return chosen


def float_tensors(labels: Sequence[str], info: TFLiteModel, locations: dict[str, Location]) -> list[str]:
    """Op outputs to keep float for ``labels``: every output of those layers plus the outputs of their readers."""
    produced = {t for op in info.ops for t in op.outputs}
    kept = [t for t in produced if locations.get(info.tensors[t].name, Location("?")).layer in labels]
    readers = {t for op in info.ops if any(i in kept for i in op.inputs) for t in op.outputs}
    return sorted({info.tensors[t].name for t in (*kept, *readers) if info.tensors[t].dtype.startswith("float")})


def readers_of(labels: Sequence[str], tensors: Sequence[str], locations: dict[str, Location]) -> list[str]:
    """Layers that run in float only because they read a kept tensor (reported beside the kept ones)."""
    extra = {locations[t].layer for t in tensors if t in locations} - set(labels)
    return sorted(extra)


@dataclass
class FixAttempt:
    fix: str  # "none", "quantizer:aeq", "calibration:mse", "samples:400", "rounding:bias-correction",
    # "keep-float:2", "int16-act"
    full_integer: bool
    kept_float: list[str] = field(default_factory=list)
    top1: float | None = None
    drop: float | None = None  # accuracy points below the float model
    agreement: float | None = None  # top-1 agreement with the float model
    seconds: float = 0.0
    accepted: bool = False


@dataclass
class Candidate:
    fix: str
    full_integer: bool
    build: Callable[[], bytes]
    kind: str = "int8"  # "int16" for the 16×8 model
    kept_float: list[str] = field(default_factory=list)
    quantizer: str = ""  # who made it, and with which --calibration method ("" for the caller's own)
    method: str = ""


@dataclass
class FixOutcome:
    data: bytes
    kind: str
    fix: str
    full_integer: bool
    kept_float: list[str]
    attempts: list[FixAttempt]
    quantizer: str = ""
    method: str = ""


Evaluate = Callable[[bytes], tuple[float, float]]  # model bytes -> (top-1, top-1 agreement with float)


def try_fixes(candidates: Iterator[Candidate], evaluate: Evaluate, reference_top1: float, max_drop: float):
    """Build and score candidates in order; stop at the first whose drop (points) is ≤ ``max_drop``.

    Returns ``(outcome or None, attempts)``; later candidates are never built.
    """
    attempts: list[FixAttempt] = []
    for c in candidates:
        t0 = time.perf_counter()
        data = c.build()
        top1, agreement = evaluate(data)
        drop = round(100 * (reference_top1 - top1), 2)
        a = FixAttempt(c.fix, c.full_integer, c.kept_float, top1, drop, agreement, round(time.perf_counter() - t0, 2))
        attempts.append(a)
        if drop <= max_drop:
            a.accepted = True
            return FixOutcome(
                data, c.kind, c.fix, c.full_integer, c.kept_float, attempts, c.quantizer, c.method
            ), attempts
    return None, attempts


def no_fix_error(attempts: Sequence[FixAttempt], max_drop: float, advice: Sequence[str]) -> VerificationError:
    """One line: what was tried, the best drop reached, and what to do next."""
    tried = ", ".join(f"{a.fix} −{a.drop:g}" for a in attempts)
    best = min(attempts, key=lambda a: a.drop if a.drop is not None else np.inf)
    more = f"; {' '.join(advice)}" if advice else ""
    return VerificationError(
        f"--auto-fix: no fix keeps the int8 drop within {max_drop:g} points (tried {tried}; best {best.fix} "
        f"−{best.drop:g}){more}; or raise --max-drop"
    )


@functools.lru_cache(maxsize=32)
def _macs(model: str, num_classes: int, resolution: int) -> int:
    from edgenet.profile import profile_variant

    return profile_variant(model, num_classes, resolution).macs


def recommendations(
    model: str, act: str, resolution: int, num_classes: int, int8_ms: float | None, budget_ms: float | None
) -> list[str]:
    """What to do when post-training fixes are not enough: the Lite recipe (activation swap, or a Lite variant).

    A Lite variant's latency is estimated from this model's measured int8 latency scaled by the MAC ratio at the
    same resolution (Lite also drops squeeze-excite and SiLU, which cost int8 more than their MACs, so the estimate
    errs on the slow side).
    """
    advice = []
    if act == "silu":
        advice.append(
            "SiLU+squeeze-excite is the int8-hostile part of EfficientNet: fine-tune with ReLU6 "
            "(`edgenet train --checkpoint CKPT --act relu6 --epochs 5`) and convert again."
        )
    if "lite" in model or int8_ms is None:
        return advice
    own = _macs(model, num_classes, resolution)
    fits = []
    for lite in ("lite0", "lite1", "lite2", "lite3", "lite4"):
        est = int8_ms * _macs(lite, num_classes, resolution) / own
        if budget_ms is None or est <= budget_ms:
            fits.append((lite, est))
    if fits:
        lite, est = fits[-1] if budget_ms is not None else fits[0]
        budget = f" within your {budget_ms:g} ms budget" if budget_ms is not None else ""
        advice.append(
            f"Or train efficientnet_{lite} (ReLU6, no squeeze-excite; built for int8): estimated {est:.2f} ms vs "
            f"{int8_ms:.2f} ms measured for this int8 model at 1 thread{budget}."
        )
    return advice


@dataclass
class Int8Fix:
    """What ``convert --keep-float/--auto-fix`` did; serialized into report.json as ``int8_fix``."""

    fix: str  # "keep-float", or the accepted FixAttempt.fix
    kind: str  # artefact kind written: "int8", or "int16" when 16×8 was the fix
    full_integer: bool
    kept_float: list[str]  # layers kept float (as named by quant-report)
    float_readers: list[str]  # layers that run float only because they read a kept tensor
    worst_layers: list[dict]  # the report's top rows, the fixes' targets
    attempts: list[FixAttempt] = field(default_factory=list)
    max_drop: float | None = None
    quantizer: str = ""  # the quantizer and --calibration method of the written model
    method: str = ""
    data: bytes = field(default=b"", repr=False)

    def gain(self) -> float | None:
        """Points the accepted fix won back over the plain int8 model (None without --auto-fix attempts)."""
        if len(self.attempts) < 2 or self.attempts[0].drop is None:
            return None
        won = next((a for a in self.attempts if a.accepted), None)
        return None if won is None or won.drop is None else round(self.attempts[0].drop - won.drop, 2)

    def warning(self) -> str:
        """What the user must know about the artefact ("" when it is a plain full-integer model)."""
        if self.kind == "int16":
            return (
                "int8: --auto-fix chose 16×8 (int16 activations), written as model_int16x8.tflite instead of "
                "model_int8.tflite; not full-integer int8 (no Edge TPU)"
            )
        if self.kept_float:
            readers = f" (+ their readers: {', '.join(self.float_readers)})" if self.float_readers else ""
            return (
                f"int8: {', '.join(self.kept_float)}{readers} kept in float: the model is no longer full-integer "
                "(Edge TPUs and microcontrollers need full-integer)"
            )
        return ""

    def summary(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d.pop("data")
        d["gain"] = self.gain()
        return d


def fix_candidates(
    quantizer: Quantizer,
    calibrated: bytes,
    io_dtype: str,
    method: str,
    layers: list,
    keep: Callable[[list[str]], bytes],
    int16: Callable[[], bytes],
    quantizers: Sequence[Quantizer] = (),
    methods: Sequence[str] = (),
    more_calibration: Callable[[], np.ndarray | None] | None = None,
    calibrated_with: Callable[[str], bytes] | None = None,
    calibrate: Callable[[np.ndarray], bytes] | None = None,
    full_integer_only: bool = False,
    rounded: Callable[[str, bool], bytes] | None = None,
    roundings: Sequence[tuple[str, bool]] = (),
) -> Iterator[Candidate]:
    """``--auto-fix``'s candidates in order of cost: as is, the other quantizers and calibration methods, more
    calibration, weights rounded before export (``rounded(rounding, bias_correction)`` for each of
    ``roundings``), then (unless only full-integer will do) float fallback of the worst layers and 16×8."""
    from edgenet.quantization.recipe import rounding_name

    own = {"quantizer": quantizer.name, "method": method}
    yield Candidate("none", True, lambda: quantizer.int8(calibrated, io_dtype, ()), **own)
    for other in quantizers:
        yield Candidate(
            f"quantizer:{other.name}", True, lambda q=other: q.int8(calibrated, io_dtype, ()), quantizer=other.name,
            method=method,
        )  # fmt: skip
    for m in methods:
        yield Candidate(
            f"calibration:{m}", True, lambda m=m: quantizer.int8(calibrated_with(m), io_dtype, ()),
            quantizer=quantizer.name, method=m,
        )  # fmt: skip
    more = more_calibration() if more_calibration else None
    if more is not None:
        yield Candidate(
            f"samples:{len(more)}",
            True,
            lambda: quantizer.int8(calibrate(more), io_dtype, ()),
            quantizer=quantizer.name,
            method="minmax",
        )
    for r, bc in roundings if rounded is not None else ():
        yield Candidate(
            f"rounding:{rounding_name(r, bc)}", True, lambda r=r, bc=bc: rounded(r, bc), quantizer=quantizer.name,
            method=method,
        )  # fmt: skip
    if full_integer_only:
        return
    for n in KEEP_FLOAT_STEPS:
        labels = worst_layers(layers, n)
        if len(labels) < n:
            break
        yield Candidate(f"keep-float:{n}", False, lambda labels=labels: keep(labels), kept_float=labels, **own)
    yield Candidate("int16-act", False, int16, "int16", **own)


def int8_with_fixes(
    quantizer: Quantizer,
    fp32: bytes,
    calibrated: bytes,
    analysis: Analysis,
    samples: np.ndarray,
    io_dtype: str,
    keep_float: str | None = None,
    max_drop: float = 1.0,
    full_integer_only: bool = False,
    evaluate: Evaluate | None = None,
    reference_top1: float | None = None,
    more_calibration: Callable[[], np.ndarray | None] | None = None,
    advice: Callable[[bytes], list[str]] | None = None,
    progress: Progress = SILENT,
    method: str = "minmax",
    calibrated_with: Callable[[str], bytes] | None = None,
    methods: Sequence[str] = (),
    quantizers: Sequence[Quantizer] = (),
    calibrate: Callable[[np.ndarray], bytes] | None = None,
    rounded: Callable[[str, bool], bytes] | None = None,
    roundings: Sequence[tuple[str, bool]] = (),
) -> Int8Fix:
    """The int8 artefact with ``keep_float`` applied, or the first candidate within ``max_drop`` (``--auto-fix``).

    Candidates come from ``quantizer`` and the one ``calibrated`` model (made with ``method``); ``evaluate(model
    bytes) -> (top-1, agreement)`` scores them against ``reference_top1``; ``advice(int8 bytes)`` says what to do
    when none is good enough. The other candidates' makers: ``more_calibration()`` (a larger set, or None),
    ``calibrate(samples)`` (default: the fast calibrator), ``calibrated_with(method)`` for each of ``methods``,
    each of ``quantizers``, ``rounded(rounding, bias_correction)`` for each of ``roundings`` (weights rounded
    before export)."""
    if calibrate is None:
        from edgenet.quantization.calibrator import calibrate as calibrate_ranges

        calibrate = lambda more: calibrate_ranges(fp32, more, progress=progress)  # noqa: E731
    a = analysis
    top = [
        {k: getattr(e, k) for k in ("rank", "layer", "op", "sqnr_db", "channel_sqnr_db", "rmse_over_scale")}
        for e in a.layers[:5]
    ]

    def keep(labels: list[str]) -> bytes:
        return quantizer.int8(calibrated, io_dtype, float_tensors(labels, a.fp32, a.locations))

    def readers(labels: list[str]) -> list[str]:
        return readers_of(labels, float_tensors(labels, a.fp32, a.locations), a.locations)

    if keep_float:
        labels = parse_keep_float(keep_float, a.layers)
        return Int8Fix(
            "keep-float", "int8", False, labels, readers(labels), top, quantizer=quantizer.name, method=method,
            data=keep(labels),
        )  # fmt: skip

    def int16() -> bytes:
        return quantizer.int16(fp32, samples, io_dtype, progress)

    tries = dict(quantizers=quantizers, methods=methods if calibrated_with else (), more_calibration=more_calibration)
    tries |= dict(calibrated_with=calibrated_with, calibrate=calibrate, full_integer_only=full_integer_only)
    tries |= dict(rounded=rounded, roundings=roundings)
    if evaluate is None or reference_top1 is None:
        raise ValueError("--auto-fix needs an evaluate function and the float model's top-1")
    candidates = fix_candidates(quantizer, calibrated, io_dtype, method, a.layers, keep, int16, **tries)
    outcome, attempts = try_fixes(candidates, evaluate, reference_top1, max_drop)
    if outcome is None:
        raise no_fix_error(attempts, max_drop, advice(quantizer.int8(calibrated, io_dtype, ())) if advice else [])
    labels = outcome.kept_float
    return Int8Fix(
        outcome.fix,
        outcome.kind,
        outcome.full_integer,
        labels,
        readers(labels) if labels else [],
        top,
        attempts,
        max_drop,
        outcome.quantizer,
        outcome.method,
        outcome.data,
    )


def model_layers(model) -> list[str]:
    """Layer labels of a PyTorch EfficientNet, as quant-report names them (stem, stages.i.j.part, …, classifier)."""
    labels, residual = [], None
    for name, module in model.named_modules():
        parts = name.split(".")
        if parts[0] == "stages" and len(parts) == 3:  # a new block: its residual add comes after its parts
            if residual:
                labels.append(residual)
            residual = f"{name}.residual" if getattr(module, "has_skip", False) else None
        elif (parts[0] == "stages" and len(parts) == 4) or (
            len(parts) == 1 and name not in ("", "stages") and type(module).__name__ != "Dropout"
        ):
            if len(parts) == 1 and residual:
                labels.append(residual)
                residual = None
            labels.append(name)
    return labels


def check_keep_float_names(spec: str, model) -> None:
    """Reject unknown ``--keep-float`` names at once (before minutes of conversion), listing the valid ones."""
    if spec.strip().isdigit():
        return
    labels = model_layers(model)
    unknown = [
        n.strip()
        for n in spec.split(",")
        if n.strip() and not any(lab == n.strip() or lab.startswith(n.strip() + ".") for lab in labels)
    ]
    if unknown:
        raise EdgenetError(
            f"--keep-float: no layer named {', '.join(unknown)}; valid layers: {', '.join(labels)} "
            "(or a number N for the N worst)"
        )


def check_fix_options(opts, model=None) -> None:
    """Validate convert's fix options before any work (they imply ``--int8``)."""
    if opts.keep_float and opts.auto_fix:
        raise EdgenetError("give either --keep-float or --auto-fix (which tries float fallback itself), not both")
    if opts.auto_fix and opts.eval_data is None:
        raise EdgenetError("--auto-fix measures each fix's accuracy: pass labelled images with --eval-data DIR")
    if opts.keep_float and opts.edgetpu:
        raise EdgenetError("--keep-float leaves float layers, which the Edge TPU cannot run; drop one of them")
    if opts.max_drop < 0:
        raise EdgenetError(f"--max-drop {opts.max_drop:g}: give the accepted accuracy loss in points (e.g. 1.0)")
    if opts.keep_float and model is not None:
        check_keep_float_names(opts.keep_float, model)
    opts.int8 = True
