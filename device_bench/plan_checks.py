"""Checks of a benchmark plan against the machine before anything runs: a batch that cannot fit in memory is
refused (``--batch 100000`` grew to 23 of 24 GB before the kernel killed it), and settings whose numbers would not
mean what they say are warned about (more threads than usable cores, too few timed runs to judge stability)."""

from __future__ import annotations

import logging
import math

from edgenet.device_bench.modelinfo import ModelInfo

from edgenet.errors import EdgenetError

# Bytes per input element that inference holds per image: float32 (4 bytes) × 3 live tensors (a layer's input and
# output, plus one) × 16, the largest activation of the family relative to its input (EfficientNet-B7's first
# expanded stage: 300×300×192 for a 600×600×3 input; B0's is 8×). An estimate of the right order, to refuse what
# cannot fit, not a bound to plan near.
BYTES_PER_INPUT_ELEMENT = 4 * 3 * 16
# fewer timed runs cannot tell a stable latency from a noisy one (p90 of 1 run is that run); `fit` times 3 at least
MIN_STABLE_RUNS = 3


def per_image_bytes(info: ModelInfo) -> int | None:
    """Estimated inference memory per image of ``info``; None when its input size is not fixed in the file."""
    dims = list(info.input_shape[1:])
    if info.resolution is None or not all(isinstance(d, int) and d > 0 for d in dims):
        res = info.preprocess.resolution if info.preprocess is not None else None
        if res is None:
            return None
        dims = [3, res, res]
    return math.prod(dims) * BYTES_PER_INPUT_ELEMENT


def available_memory() -> int | None:
    """Bytes the kernel can give without swapping (``MemAvailable``); None where /proc/meminfo is absent."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def refuse_batches_that_cannot_fit(infos: list[ModelInfo], batches: tuple[int, ...], target: str) -> None:
    """On this machine, a batch whose estimated memory exceeds what is available is an error naming the largest
    batch that fits (remote targets report their own out-of-memory failure)."""
    avail = available_memory() if target == "local" else None
    if avail is None:
        return
    for info in infos:
        per = per_image_bytes(info)
        if per is None:
            continue
        batch = max(batches)
        if batch * per > avail:
            fits = max(1, avail // per)
            raise EdgenetError(
                f"--batch {batch}: {info.path.name} would need about {batch * per / 1e9:.1f} GB (an estimate: "
                f"{per / 1e6:.1f} MB of inputs and activations per image) but {avail / 1e9:.1f} GB of memory is "
                f"available; use --batch {fits} or less"
            )


def warn_about_meaningless_settings(threads: tuple[int, ...], runs: int, seconds: float | None, target: str) -> None:
    """Warn (on the "edgenet" logger, which the CLI prints) where a row would look trustworthy and is not."""
    from edgenet.devices import available_cpus

    log = logging.getLogger("edgenet")
    cores = available_cpus() if target == "local" else None
    if cores is not None and max(threads) > cores:
        log.warning(
            f"--threads {max(threads)} on {cores} usable CPU core(s): the threads take turns on the cores, so the "
            f"latency measures that contention; use --threads {cores} or fewer"
        )
    if seconds is None and runs < MIN_STABLE_RUNS:
        log.warning(
            f"--runs {runs}: too few timed runs to tell a stable latency from a noisy one (the stability check needs "
            f"{MIN_STABLE_RUNS} or more); the rows' stable/unstable mark means little"
        )
