"""Which torch device a command runs on: shared by training and evaluation."""

from __future__ import annotations

import torch

from edgenet.errors import EdgenetError


def pick_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when present; ``cuda`` without a GPU is a clear error rather than a crash deep in torch."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise EdgenetError("--device cuda: no CUDA GPU visible to PyTorch; use --device cpu")
        return torch.device("cuda", local_rank)
    if device != "cpu":
        raise EdgenetError(f"--device {device}: choose auto, cpu or cuda")
    return torch.device("cpu")
