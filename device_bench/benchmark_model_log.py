"""Parse the log of TFLite's official ``benchmark_model`` binary (what ``edgenet bench --target adb://`` runs).

The binary has printed its results in several shapes since 2018, all of which occur in the wild and in
``tests/fixtures/benchmark_model/`` (each recorded log is labelled with where it was published):

* ``count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450`` — per-phase statistics in µs; the
  warm-up phase comes first, the timed phase last (``count=1 curr=15908626`` when all samples are equal).
* ``Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4``
  (2019+), or ``Average inference timings in us: Warmup: 76605.9, Init: 9933, no stats: 66767.6`` (2018).
* Memory: ``Peak memory footprint (MB): init=0 overall=12.8672`` or ``Memory footprint delta from the start of the
  tool (MB): init=8.97656 overall=18.7227`` (growth since the tool started, approximate by its own note).
* LiteRT's newer binary: ``Model initialization: 23744.73 ms``, ``Inference (avg): 7430.20 ms (10 runs)``,
  ``Overall footprint: 6391.74 MB``.
* Lines may carry prefixes (``INFO: ``, logcat's ``05-30 15:16:44.857  3380  3380 I tflite  : ``).

The binary reports mean/std/min/max only, so p50/p90/p99 stay unknown (None) for adb results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_STAT = re.compile(rf"\bcount=(\d+)((?:\s+\w+={NUM})*)")
_PAIR = re.compile(rf"(\w+)=({NUM})")
_SUMMARY = re.compile(r"(?:Average )?[Ii]nference timings in us:(.*)")
_FIELD = re.compile(rf"([A-Za-z][A-Za-z ()]*?):\s*({NUM})")
_LITERT = re.compile(rf"(Model initialization|Warmup \((?:first|avg)\)|Inference \((?:avg|min|max|std)\)):\s*({NUM})")


@dataclass
class BenchmarkModelLog:
    """One benchmark of one model; times in milliseconds (the binary logs µs), memory in MB."""

    count: int | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_mean_ms: float | None = None
    peak_memory_mb: float | None = None
    memory_source: str | None = None
    threads: int | None = None
    graph: str | None = None
    xnnpack: bool | None = None
    model_size_mb: float | None = None
    errors: list[str] = field(default_factory=list)


class BenchmarkModelLogError(ValueError):
    """The log holds no completed benchmark; the message is the tool's own first error line when it printed one."""


def _sections(text: str) -> list[str]:
    parts = re.split(r"^.*STARTING!.*$", text, flags=re.M)
    return [p for p in parts if p.strip()]


def _parse_section(text: str) -> BenchmarkModelLog:
    log = BenchmarkModelLog()
    stats: list[dict[str, float]] = []
    summary: dict[str, float] = {}
    litert: dict[str, float] = {}
    for line in text.splitlines():
        if m := _STAT.search(line):
            d = {k: float(v) for k, v in _PAIR.findall(m.group(2))}
            d["count"] = float(m.group(1))
            stats.append(d)
        elif m := _SUMMARY.search(line):
            summary = {k.strip(): float(v) for k, v in _FIELD.findall(m.group(1))}
        elif m := _LITERT.search(line):
            litert[m.group(1)] = float(m.group(2))
        if m := re.search(
            rf"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
            rf"init=({NUM}) overall=({NUM})",
            line,
        ):
            log.peak_memory_mb, log.memory_source = float(m.group(2)), "footprint"
        if m := re.search(rf"Overall footprint:\s*({NUM}) MB", line):  # LiteRT's newer binary
            log.peak_memory_mb, log.memory_source = float(m.group(1)), "footprint"
        if m := re.search(r"Num threads: \[(-?\d+)\]", line):
            log.threads = int(m.group(1))
        if m := re.search(r"Graph: \[(.*)\]", line):
            log.graph = m.group(1)
        if m := re.search(r"Use xnnpack\s*: \[(\d)\]", line):
            log.xnnpack = m.group(1) == "1"
        if "XNNPACK delegate for CPU" in line:
            log.xnnpack = True
        if m := re.search(rf"input model file size \(MB\): ({NUM})", line):
            log.model_size_mb = float(m.group(1))
        if m := re.search(r"(ERROR: .*|Failed .*|.*failed to prepare.*)", line):
            log.errors.append(m.group(1).strip())
    if summary:
        if stats:
            s = stats[-1]  # the timed phase follows the warm-up phase
            log.count = int(s["count"])
            log.std_ms = s.get("std", 0.0) / 1000.0
            log.min_ms = s.get("min", s.get("curr", 0.0)) / 1000.0
            log.max_ms = s.get("max", s.get("curr", 0.0)) / 1000.0
        mean = next((summary[k] for k in ("Inference (avg)", "Inference", "no stats") if k in summary), None)
        log.mean_ms = mean / 1000.0 if mean is not None else (stats[-1].get("avg", 0) / 1000.0 if stats else None)
        log.init_ms = summary["Init"] / 1000.0 if "Init" in summary else None
        log.first_ms = summary["First inference"] / 1000.0 if "First inference" in summary else None
        warm = summary.get("Warmup (avg)", summary.get("Warmup"))
        log.warmup_mean_ms = warm / 1000.0 if warm is not None else None
    elif "Inference (avg)" in litert:  # LiteRT's benchmark already logs milliseconds
        log.mean_ms = litert["Inference (avg)"]
        log.min_ms, log.max_ms = litert.get("Inference (min)"), litert.get("Inference (max)")
        log.std_ms = litert.get("Inference (std)")
        log.init_ms, log.first_ms = litert.get("Model initialization"), litert.get("Warmup (first)")
        log.warmup_mean_ms = litert.get("Warmup (avg)")
        if m := re.search(r"Inference \(avg\):\s*\S+ ms \((\d+) runs\)", text):
            log.count = int(m.group(1))
    return log


def parse_benchmark_model(text: str) -> BenchmarkModelLog:
    """The last completed benchmark in ``text``; :class:`BenchmarkModelLogError` when none completed."""
    logs = [_parse_section(s) for s in _sections(text)]
    done = [g for g in logs if g.mean_ms is not None]
    if done:
        return done[-1]
    errors = [e for g in logs for e in g.errors]
    reason = errors[0] if errors else next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
    raise BenchmarkModelLogError(f"benchmark_model did not finish: {reason[:200] or 'no output'}")
