"""What a command runs on: the torch device (training, evaluation) and the CPUs it may use (data loading,
calibration workers). torch is imported only by :func:`pick_device`."""

from __future__ import annotations

import os

from edgenet.errors import EdgenetError


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or taskset's share), not the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows


def pick_device(device: str, local_rank: int = 0):
    """``auto`` is CUDA when present; ``cuda`` without a GPU is a clear error rather than a crash deep in torch."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise EdgenetError("--device cuda: no CUDA GPU visible to PyTorch; use --device cpu")
        return torch.device("cuda", local_rank)
    if device != "cpu":
        raise EdgenetError(f"--device {device}: choose auto, cpu or cuda")
    return torch.device("cpu")
