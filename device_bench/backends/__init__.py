"""Backends: each module's ``run(spec) -> dict`` loads, times and classifies in the process it is called in
(``python -m edgenet.device_bench.worker`` locally, ``remote_runner.py`` on a board), and ``prepare_inputs`` turns
preprocessed float images into what that model takes. Which module serves which ``--backend``, and its delegates,
come from the runtime registry (:mod:`edgenet.runtimes`)."""

from __future__ import annotations

from types import ModuleType

from edgenet.runtimes import RUNTIMES, get_runtime

BACKENDS = tuple(RUNTIMES)
DELEGATES = {rt.name: rt.delegates for rt in RUNTIMES.values()}
DEFAULT_DELEGATE = {rt.name: rt.delegates[0] for rt in RUNTIMES.values()}


def backend_module(name: str) -> ModuleType:
    rt = get_runtime(name)
    return rt.load(rt.backend)
