"""Multi-GPU and multi-node through ``torchrun``: the environment it sets up decides; one process is the default.

``torchrun --nproc-per-node 8 -m edgenet.cli.main train ...`` (or ``torchrun $(which edgenet) train ...``) runs
one process per GPU; ``--nnodes``/``--rdzv-endpoint`` add machines. Only rank 0 writes; metrics are summed across
ranks. NCCL on CUDA, gloo on CPU (which is how the tests run two processes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from edgenet.devices import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over all ranks (in place on a copy on the rank's device); a no-op in one process."""
    if not info.enabled:
        return t
    t = t.to(info.device).clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
