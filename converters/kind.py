"""What an artefact kind is: the :class:`Kind` entry, what its builder gets (:class:`BuildContext`) and the
registry they go in. The kinds themselves register from their runtime's module (:mod:`converters.kinds` for
TFLite's, :mod:`converters.executorch`, …), which imports only this module: the registry's loader
(:func:`converters.kinds.load_kinds`) imports them, never the other way round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converters.graph import FloatGraph
from edgenet.progress import SILENT, Progress
from edgenet.registry import Registry


@dataclass
class BuildContext:
    """What a kind's builder may use: the float graph, calibration samples, the quantizer, the calibration method and
    the I/O choice.

    ``model`` is the PyTorch module itself, for runtimes that export from it (ExecuTorch) rather than from the graph;
    ``details`` collects what a builder alone knows (e.g. ExecuTorch's delegation counts) for report.json."""

    graph: FloatGraph
    samples: np.ndarray | None = field(default=None, repr=False)
    quantizer: object = None  # quantization.quantizers.Quantizer
    io_dtype: str = "int8"
    progress: Progress = SILENT
    method: str = "minmax"  # --calibration: how activation ranges are chosen (quantization.calibration_methods)
    model: Any = field(default=None, repr=False)  # torch.nn.Module
    details: dict[str, dict] = field(default_factory=dict)  # kind name -> extra report.json entries

    def calibrated(self) -> bytes:
        if self.samples is None or not len(self.samples):
            raise ValueError("this artefact kind needs calibration samples")
        return self.graph.calibrated(self.quantizer, self.samples, self.progress, self.method)


@dataclass
class Description:
    """What verification reads from a built file: its op census, I/O types, what to warn about, and (for kinds
    that must be full-integer) whether it is."""

    ops: dict[str, int]
    input_dtype: str
    output_dtype: str
    warnings: list[str] = field(default_factory=list)
    full_integer: bool | None = None


def describe_by_runner(kind: Kind, path: Path, runner: Any) -> Description:
    """The default: the I/O types the runtime's runner reports (``runner.io()``), no op census."""
    io = runner.io()
    return Description({}, io.input_dtype, io.output_dtype)


@dataclass(frozen=True)
class Kind:
    name: str
    file: str
    help: str
    build: Callable[[BuildContext], bytes]
    calibrated: bool = False  # needs calibration samples
    full_integer: bool = False  # must contain no float op (checked)
    reference: str = "fp32"  # the artefact its outputs are compared with ("onnx", "fp32" or another kind's name)
    runtime: str = "tflite"  # the runtime (edgenet.runtimes) whose runner verifies it and whose backend times it
    tolerance: tuple[float, float] | None = None  # (atol, rtol) for float kinds checked against a float reference
    # (kind, built file, its runner) -> its op census, I/O types and warnings, for report.json
    describe: Callable[[Kind, Path, Any], Description] = describe_by_runner
    tool: Callable[[BuildContext], str] | None = None  # what builds it, named when that fails [default: runtime's]


KINDS: Registry[Kind] = Registry("artefact kind")
register = KINDS.register
