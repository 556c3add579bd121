"""This machine: each configuration in a fresh ``python -m device_bench.worker`` process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from device_bench.targets import read_result


class LocalTarget:
    name = "local"
    backends = ("tflite", "onnxruntime", "torch")

    def __enter__(self) -> LocalTarget:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def run(self, model: Path, spec: dict, inputs: Path | None = None) -> dict:
        spec = spec | {"model": str(model), "inputs": str(inputs) if inputs else None}
        proc = subprocess.run(
            [sys.executable, "-m", "device_bench.worker", json.dumps(spec)], capture_output=True, text=True
        )
        return read_result(proc.stdout, proc.stderr, proc.returncode, model.name)
