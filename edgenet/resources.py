"""Seconds and peak resident memory of each stage of a long job, for report.json, and the memory a machine can give.

A stage's peak is the process's high-water mark (``VmHWM``) over that stage alone: Linux lets a process reset its
own mark (``/proc/self/clear_refs``), so each stage starts from what is resident when it begins, and a stage inside
another (calibration inside int8) also counts toward the outer one. Worker processes report their own peaks.
Elsewhere the mark cannot be reset and each peak is the process's peak so far (``peak_since_start``).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

MB = 1 << 20


@dataclass
class StageUsage:
    stage: str
    seconds: float
    peak_rss_mb: float  # this process, during the stage
    workers_peak_rss_mb: float | None = None  # the largest worker process of the stage, as it reported itself
    peak_since_start: bool = False  # the mark could not be reset: the process's peak up to the stage's end


def _status_kb(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's resident high-water mark to what is resident now (Linux); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_kb() -> int:
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


_ACTIVE: ContextVar[StageMeter | None] = ContextVar("edgenet_stage_meter", default=None)


@dataclass
class StageMeter:
    """Times and measures nested stages: ``with meter.stage("int8"): ...``; ``stages`` in the order they ended.

    Worker processes report their own peaks (:func:`note_worker_peak`): a child's ``getrusage`` figure would count
    the parent's pages it shared until ``exec``, so it says nothing about the worker itself."""

    stages: list[StageUsage] = field(default_factory=list)
    _open: list[list] = field(default_factory=list, repr=False)  # [peak KiB, workers' peak MB] of each open stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        active = _ACTIVE.get()  # another meter's open stages enclose this one too
        for outer in [*self._open, *(active._open if active not in (None, self) else [])]:
            outer[0] = max(outer[0], _peak_kb())  # what they reached before this stage resets the mark
        reset = _reset_peak()
        mine = [0, None]
        self._open.append(mine)
        token, t0 = _ACTIVE.set(self), time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - t0
            _ACTIVE.reset(token)
            release_memory(collect=False)  # what the stage freed goes back to the OS before the next one starts
            self._open.pop()
            mine[0] = max(mine[0], _peak_kb())
            for outer in [*self._open, *(active._open if active not in (None, self) else [])]:
                outer[0] = max(outer[0], mine[0])
                outer[1] = _max(outer[1], mine[1])
            workers = None if mine[1] is None else round(mine[1], 1)
            self.stages.append(StageUsage(name, round(seconds, 3), round(mine[0] / 1024, 1), workers, not reset))


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def note_worker_peak(mb: float) -> None:
    """A worker process's own peak resident memory, counted in the innermost stage being measured (if any)."""
    meter = _ACTIVE.get()
    if meter is not None and meter._open:
        meter._open[-1][1] = _max(meter._open[-1][1], mb)


def release_memory(collect: bool = True) -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``, ~0.1 ms), so the next stage's peak starts
    from what is still in use rather than from what the last one left cached; ``collect`` first frees reference
    cycles too (``gc.collect``: 0.3 s with TensorFlow and torch loaded, so only where big objects were dropped)."""
    import gc

    if collect:
        gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def available_memory_mb() -> float | None:
    """Memory this process can still take: ``MemAvailable``, capped by a cgroup limit (containers); None if unknown."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) / 1024
    except OSError:
        return None
    for folder, limit_file, usage_file, stat_key in (
        ("/sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"),
        ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    ):
        try:
            limit = Path(folder, limit_file).read_text().strip()
            if limit != "max" and int(limit) < (1 << 60):
                # the working set, as the kubelet counts it: usage less the page cache the kernel can drop
                used = int(Path(folder, usage_file).read_text()) - _stat(Path(folder, "memory.stat"), stat_key)
                room = (int(limit) - max(used, 0)) / MB
                avail = room if avail is None else min(avail, room)
            break
        except (OSError, ValueError):
            continue
    return avail


def _stat(path: Path, key: str) -> int:
    try:
        return next((int(v) for k, v in (line.split() for line in path.read_text().splitlines()) if k == key), 0)
    except (OSError, ValueError):
        return 0
