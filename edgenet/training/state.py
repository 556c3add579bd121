"""Run state that is not weights: a graceful stop on Ctrl-C/SIGTERM, and RNG states in checkpoint-safe form."""

from __future__ import annotations

import random
import signal
import threading

import numpy as np
import torch


class StopRequest:
    """Ctrl-C / SIGTERM set a flag that the loop checks between steps, so the saved state is always consistent.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once.
    """

    def __init__(self, log) -> None:
        self.requested, self.log, self._old = False, log, {}
        self.signal: str | None = None  # "SIGINT" or "SIGTERM": the CLI exits 130 or 143

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            from edgenet.errors import Terminated

            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.requested, self.signal = True, signal.Signals(signum).name
        self.log(f"{signal.Signals(signum).name}: saving a checkpoint after this step (Ctrl-C again to abort)")

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def rng_state() -> dict:
    """RNG states in a form ``torch.load(weights_only=True)`` accepts (tensors, lists, numbers)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2])},
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"]["key"].numpy().astype(np.uint32), state["numpy"]["pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
