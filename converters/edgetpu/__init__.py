"""Coral Edge TPU: predict the compiler's placement from the flatbuffer, or run the real compiler when present.

``compile_or_predict`` is what ``edgenet convert --edgetpu`` calls: with ``edgetpu_compiler`` on PATH it compiles
and parses the compiler's own report; without it, it records the prediction of ``edgenet edgetpu check`` and says
how to install the compiler. Either way the caller gets one :class:`EdgeTPUResult` for report.json.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgenet.converters.edgetpu.check import EdgeTPUCheck, check_model
from edgenet.converters.edgetpu.compiler import INSTALL_HINT, CompilerLog, find_compiler, parse_log, run_compiler

from edgenet.artifacts.tflite_model import read_tflite

__all__ = ["INSTALL_HINT", "CompilerLog", "EdgeTPUCheck", "EdgeTPUResult", "check_model", "compile_or_predict"]
__all__ += ["parse_log"]


@dataclass
class EdgeTPUResult:
    """What happened for the Edge TPU: a real compilation (``compiled``) or, without the compiler, a prediction."""

    compiled: bool
    prediction: EdgeTPUCheck
    message: str
    compiler: str | None = None
    log: CompilerLog | None = None
    output: Path | None = None  # <model>_edgetpu.tflite in out_dir when compiled
    log_file: Path | None = None
    install_hint: str | None = None
    seconds: float = 0.0

    @property
    def source(self) -> str:
        return "compiler" if self.log is not None else "prediction"

    @property
    def counts(self) -> dict:
        return self.log.counts() if self.compiled and self.log else self.prediction.counts

    @property
    def prediction_agrees(self) -> bool | None:
        """Did the prediction get the compiler's Edge TPU/CPU split right? None when nothing was compiled."""
        return None if not (self.compiled and self.log) else self.log.counts() == self.prediction.counts

    def to_dict(self) -> dict:
        pred = self.prediction.to_dict()
        pred.pop("ops")  # per-op detail: `edgenet edgetpu check --json`
        log = self.log.to_dict() if self.log else None
        return {
            "compiled": self.compiled,
            "source": self.source,
            "message": self.message,
            "counts": self.counts,
            "file": self.output.name if self.output else None,
            "compiler": self.compiler,
            "compiler_version": self.log.compiler_version if self.log else None,
            "on_chip_bytes": log["on_chip_used_bytes"] if log else None,
            "off_chip_bytes": log["off_chip_used_bytes"] if log else None,
            "unmapped": [vars(r) for r in self.log.unmapped] if self.log else None,
            "error": self.log.error if self.log else None,
            "compiler_log": log,
            "prediction": pred,
            "prediction_agrees": self.prediction_agrees,
            "install_hint": self.install_hint,
            "seconds": round(self.seconds, 3),
        }


def compile_or_predict(tflite_path: Path, out_dir: Path, timeout_s: float = 180) -> EdgeTPUResult:
    """Compile ``tflite_path`` into ``out_dir/<stem>_edgetpu.tflite`` (+ ``.log``), or predict when no compiler."""
    start = time.perf_counter()
    tflite_path, out_dir = Path(tflite_path), Path(out_dir)
    prediction = check_model(read_tflite(tflite_path))
    compiler = find_compiler()
    if compiler is None:
        c = prediction.counts
        return EdgeTPUResult(
            compiled=False,
            prediction=prediction,
            message=(
                f"edgetpu_compiler not found on PATH: recorded the prediction of `edgenet edgetpu check` instead "
                f"({c['edgetpu']}/{c['total']} ops predicted on the Edge TPU)"
            ),
            install_hint=INSTALL_HINT,
            seconds=time.perf_counter() - start,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".edgetpu.", dir=out_dir))
    try:
        run = run_compiler(tflite_path, work, timeout_s, compiler)
        output = log_file = None
        if run.output is not None:
            output = out_dir / run.output.name
            os.replace(run.output, output)
        if run.log_file is not None:
            log_file = out_dir / run.log_file.name
            os.replace(run.log_file, log_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if output is not None:
        c = run.log.counts()
        message = f"compiled {output.name}: {c['edgetpu']}/{c['total']} ops on the Edge TPU"
    else:
        message = f"edgetpu_compiler failed: {run.log.error}"
    return EdgeTPUResult(
        compiled=output is not None,
        prediction=prediction,
        message=message,
        compiler=compiler,
        log=run.log,
        output=output,
        log_file=log_file,
        seconds=time.perf_counter() - start,
    )
