"""This machine: each configuration in a fresh worker process (:mod:`edgenet.device_bench.worker`).

The worker imports edgenet and device_bench from exactly where this process did, never from the current folder:
``python -m`` puts the current folder first on ``sys.path``, so ``edgenet bench`` run from a folder holding an
``edgenet`` or ``device_bench`` folder (a clone, a run folder named after the project) imported that instead.
``-c`` puts the current folder there as ``""``; the bootstrap removes it and puts the package's root first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgenet.device_bench.targets import read_result

import edgenet
from edgenet.runtimes import RUNTIMES

_ROOT = str(Path(edgenet.__file__).resolve().parent.parent)  # the folder holding the edgenet package
_BOOT = (
    "import sys; sys.path[:] = [sys.argv.pop(1), *(p for p in sys.path if p)]; "
    "from edgenet.device_bench.worker import main; sys.exit(main())"
)


class LocalTarget:
    name = "local"
    backends = tuple(RUNTIMES)  # every registered runtime runs here (when installed: Runtime.unavailable says)

    def __enter__(self) -> LocalTarget:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def run(self, model: Path, spec: dict, inputs: Path | None = None) -> dict:
        spec = spec | {"model": str(model), "inputs": str(inputs) if inputs else None}
        proc = subprocess.run([sys.executable, "-c", _BOOT, _ROOT, json.dumps(spec)], capture_output=True, text=True)
        return read_result(proc.stdout, proc.stderr, proc.returncode, model.name)
