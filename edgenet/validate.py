"""Argument rules shared by the command line and the Python API: one place, one message.

The CLI used to check its numbers with click's ranges while ``edgenet.api`` passed whatever it was given to the
library: ``convert(calib_samples=-1)``, ``bench(runs=0)`` (a KeyError), ``batch=(0,)`` (a 0.004 ms row),
``create_model("b0", num_classes=0)`` (ZeroDivisionError). Now the library functions both front ends call check
their arguments here, and a bad one raises :class:`ArgumentError` — an :class:`EdgenetError` (the CLI prints one
line and exits 2) that is also a :class:`ValueError` (what a Python caller expects). Messages name the command-line
option, whose Python keyword is the same name in snake case (``--calib-samples`` is ``calib_samples=``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from edgenet.errors import EdgenetError


class ArgumentError(EdgenetError, ValueError):
    """A bad argument value: one line naming the option, the value and the rule."""


def integer(value: object, flag: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int within [minimum, maximum]; a bool, a float or a string is refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"{flag} {value!r}: must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ArgumentError(f"{flag} {value}: must be {bound}")
    return value


def number(
    value: object, flag: str, minimum: float | None = None, maximum: float | None = None, above: bool = False
) -> float:
    """``value`` as a finite float within the bounds (``above``: strictly greater than ``minimum``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ArgumentError(f"{flag} {value!r}: must be a finite number")
    low = minimum is not None and (value <= minimum if above else value < minimum)
    if low or (maximum is not None and value > maximum):
        parts = []
        if minimum is not None:
            parts.append(f"{'greater than' if above else 'at least'} {minimum:g}")
        if maximum is not None:
            parts.append(f"at most {maximum:g}")
        raise ArgumentError(f"{flag} {value:g}: must be {' and '.join(parts)}")
    return float(value)


def integers(values: object, flag: str, minimum: int = 1, maximum: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of ints, each checked like :func:`integer` (a string is not a sequence of numbers)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ArgumentError(f"{flag} {values!r}: must be a list of whole numbers, e.g. (1, 2)")
    items = tuple(values)
    if not items:
        raise ArgumentError(f"{flag}: give at least one value")
    for v in items:
        integer(v, flag, minimum, maximum)
    return items


def paths(values: object, flag: str) -> list[Path]:
    """A non-empty list of file paths; a single string is refused (iterating it would give one path per letter)."""
    if isinstance(values, str | bytes | os.PathLike):
        raise ArgumentError(f"{flag} {values!r}: must be a list of files, e.g. [{str(values)!r}]")
    if not isinstance(values, Iterable):
        raise ArgumentError(f"{flag} {values!r}: must be a list of files")
    items = list(values)
    if not items:
        raise ArgumentError(f"{flag}: give at least one file")
    for v in items:
        if not isinstance(v, str | os.PathLike) or not str(v):
            raise ArgumentError(f"{flag} {v!r}: not a file path")
    return [Path(v) for v in items]


def path(value: object, flag: str) -> Path:
    """One file or folder path (``None`` or a number is refused rather than becoming the folder ``None``)."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ArgumentError(f"{flag} {value!r}: must be a path")
    return Path(value)


def text(value: object, flag: str) -> str:
    """A non-empty string (``None`` or a number where a name belongs is refused)."""
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"{flag} {value!r}: must be a non-empty string")
    return value


def keep_float(spec: str | None) -> str | None:
    """``--keep-float N`` (the N worst layers) or ``LAYER,LAYER``; an empty list (``,,,``) is refused."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise ArgumentError(f"--keep-float {spec!r}: give a count N or a comma list of layer names")
    names = [s.strip() for s in spec.split(",")]
    if not any(names) or (len(names) > 1 and not all(names)):
        raise ArgumentError(
            f"--keep-float {spec!r}: empty layer name(s); give a count N or layer names separated by single commas"
        )
    if len(names) == 1 and names[0].lstrip("-").isdigit():
        integer(int(names[0]), "--keep-float")
    return spec


def needs(flag: str, given: bool, other: str, other_given: bool) -> None:
    """``flag`` only means something with ``other``: given alone it would be silently ignored."""
    if given and not other_given:
        raise ArgumentError(f"{flag} applies only with {other}; add {other} or drop {flag}")


# ------------------------------------------------------------------------------------------------ per workflow
def convert_options(opts) -> None:
    """The numbers and combinations of :class:`edgenet.converters.pipeline.ConvertOptions` (``edgenet convert`` and
    ``edgenet.api.convert``)."""
    integer(opts.calib_samples, "--calib-samples")
    integer(opts.parity_samples, "--parity-samples")
    integer(opts.opset, "--opset", 17, max_opset())
    if opts.threads is not None:
        integer(opts.threads, "--threads")
    if opts.min_agreement is not None:
        number(opts.min_agreement, "--min-agreement", 0, 1)
    number(opts.max_drop, "--max-drop", 0, 100)
    keep_float(opts.keep_float)
    if opts.latency_budget_ms is not None:
        number(opts.latency_budget_ms, "--latency-budget", 0, above=True)
    needs("--latency-budget", opts.latency_budget_ms is not None, "--auto-fix", opts.auto_fix)
    for flag in ("fp16", "dynamic", "int8", "int16", "edgetpu", "auto_fix", "simplify", "executorch", "tensorrt"):
        if not isinstance(getattr(opts, flag), bool):
            raise ArgumentError(f"--{flag.replace('_', '-')} {getattr(opts, flag)!r}: must be True or False")


def max_opset() -> int:
    """The newest ONNX opset the TorchScript exporter (the one edgenet uses) writes: a newer one failed deep inside
    torch.onnx and was reported as a converter failure (exit 4) instead of a bad option."""
    try:
        from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    except ImportError:  # a torch without the constant: torch.onnx itself then says what it supports
        return 1_000
    return int(ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)


def bench_plan(plan, target: object) -> None:
    """:class:`edgenet.device_bench.bench.Plan` and the target (``edgenet bench`` and ``edgenet.api.bench``)."""
    text(target, "--target")
    integers(plan.threads, "--threads", 1, 1024)
    integers(plan.batch, "--batch", 1)
    integer(plan.runs, "--runs")
    integer(plan.warmup, "--warmup", 0)
    if plan.seconds is not None:
        number(plan.seconds, "--seconds", 0, above=True)


def quant_report_options(calib_samples: object, debug_samples: object, top: object, budget: object = None) -> None:
    """``edgenet quant-report`` and ``edgenet.api.quant_report``."""
    integer(calib_samples, "--calib-samples")
    integer(debug_samples, "--samples")
    integer(top, "--top")
    if budget is not None:
        number(budget, "--latency-budget", 0, above=True)


# Above B8 (width 2.2, depth 3.6) with room for φ ≤ 10 on the paper's constants (×2.59, ×6.19); beyond, building
# the network alone takes minutes and gigabytes (scale --phi 6 --alpha 5: 300 s, 5.3 GB), or overflows.
MAX_WIDTH_MULT, MAX_DEPTH_MULT = 4.0, 8.0


MAX_CLASSES = 1_000_000  # a classifier beyond this is a typo, and its weights alone several GB


def num_classes(value: object) -> int:
    """The classifier size (``--num-classes``)."""
    return integer(value, "--num-classes", 1, MAX_CLASSES)


def model_config(cfg) -> None:
    """A :class:`edgenet.models.ModelConfig` that can be built in bounded time and memory."""
    num_classes(cfg.num_classes)
    number(cfg.width_mult, "width multiplier", 0, MAX_WIDTH_MULT, above=True)
    number(cfg.depth_mult, "depth multiplier", 0, MAX_DEPTH_MULT, above=True)
    number(cfg.dropout, "--dropout", 0, 1)
    number(cfg.drop_path_rate, "--drop-path", 0, 1)
