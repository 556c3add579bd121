"""``train --workers`` defaults to the CPUs this process may use (issue 13: 4 on a 2-core machine)."""

from __future__ import annotations

import os

from edgenet.training.config import TrainConfig, default_workers


def test_workers_default_to_the_cpus_available(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # absent on macOS
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert TrainConfig().workers == default_workers() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun: four processes share this machine's CPUs
    assert TrainConfig().workers == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert TrainConfig(workers=0).workers == 0 and TrainConfig().workers == 1
