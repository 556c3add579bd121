"""What a benchmark asks for (:class:`BenchConfig`) and what it measured (:class:`BenchResult`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# The fields of a configuration that change the number it measures; warmup/runs only change its precision.
KEY_FIELDS = ("backend", "device", "threads", "delegate", "batch", "precision", "channels_last", "compile")


@dataclass(frozen=True)
class BenchConfig:
    """One configuration to time. ``precision`` matters for torch (fp32 | fp16 | bf16 autocast); for .tflite and
    .onnx files the artefact decides it and it is filled in from the model."""

    backend: str
    device: str = "cpu"
    threads: int = 1
    delegate: str = "none"
    batch: int = 1
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    warmup: int = 10
    runs: int = 100
    seconds: float | None = None

    def key(self, target: str, machine: str) -> str:
        """Stable id of (configuration, where it ran): with the model's sha256 it keys a row of the results db."""
        d = {k: getattr(self, k) for k in KEY_FIELDS} | {"target": target, "machine": machine}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def spec(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LatencyStats:
    """Milliseconds per inference (per batch when batched). None where a tool does not report it (adb)."""

    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None
    std: float | None
    min: float | None
    max: float | None = None


@dataclass
class BenchResult:
    """One configuration of one model measured on one machine: a row of the results db, an object of ``--json``."""

    model: str  # registry name when known ("efficientnet_b0"), else the file's stem
    model_file: str
    model_sha256: str
    model_bytes: int
    model_format: str  # tflite | onnx | checkpoint
    precision: str  # fp32 | fp16 | dynamic | int8 | bf16
    resolution: int | None
    backend: str
    backend_version: str
    device: str
    target: str
    machine: str  # what ran it: CPU model or board, GPU name with --device cuda
    threads: int
    delegate: str
    batch: int
    runs: int
    warmup: int
    latency_ms: LatencyStats
    throughput_per_s: float | None
    load_ms: float | None
    first_inference_ms: float | None
    peak_rss_mb: float | None
    input_dtype: str
    env: dict[str, Any]
    created_at: str
    config_key: str
    options: dict[str, Any] = field(default_factory=dict)
    top1: float | None = None
    top5: float | None = None
    top5_k: int | None = None  # the k of "top-5": min(5, number of classes); top-5 of 3 classes is always 100 %
    eval_samples: int | None = None
    unstable: bool = False  # latencies too spread to trust (stats.is_unstable): a busy or throttling machine
    # what actually ran, as the runtime itself reports it: the delegate whose kernels were installed ("none": the
    # builtin kernels ran everything; None: not knowable there) and the interpreter package and version
    delegate_ran: str | None = None
    interpreter: str | None = None
    # the CPU's fastest int8 instructions (remote_runner.cpu_int8: "AVX-512 VNNI", "AVX2, no VNNI", "NEON
    # dot-product"): how much int8 can gain over fp32 there; None where the target does not say
    cpu_int8: str | None = None
    # the emulator that ran it ('qemu-aarch64 7.2.22'), None on real hardware: such a latency times the emulator on
    # the host CPU and is never compared with a real one
    emulated: str | None = None
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw per-run latencies (they go to the db, not the terminal)."""
        d = asdict(self)
        d.pop("latencies_ms")
        return d

    @property
    def delegate_missing(self) -> bool:
        """The delegate asked for did not run (known only where the runtime reports it)."""
        return delegate_missing(self.delegate, self.delegate_ran)

    @property
    def label(self) -> str:
        """'b0 int8' — short enough to print next to a point of a plot."""
        return f"{self.model.removeprefix('efficientnet_')} {self.precision}"


def delegate_missing(requested: str, ran: str | None) -> bool:
    """True when a run's requested delegate is known not to have applied (``ran`` None: unknown, not flagged)."""
    return ran is not None and ran != requested
