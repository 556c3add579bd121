"""What an artefact kind is: the :class:`Kind` entry, what its builder gets (:class:`BuildContext`) and the
registry they go in. The kinds themselves register from their runtime's module (:mod:`edgenet.converters.kinds` for
TFLite's, :mod:`edgenet.converters.executorch`, …), which imports only this module: the registry's loader
(:func:`edgenet.converters.kinds.load_kinds`) imports them, never the other way round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from edgenet.converters.graph import FloatGraph
from edgenet.quantization.calibration import Calibration
from edgenet.quantization.quantizers import Quantizer, get_quantizer
from edgenet.quantization.recipe import Int8Recipe

from edgenet.progress import SILENT, Progress
from edgenet.registry import Registry
from edgenet.resources import StageMeter


@dataclass
class BuildContext:
    """What a kind's builder may use: the float graph, calibration samples, the int8 recipe (a frozen value:
    quantizer, calibration method, rounding, I/O types) and the calibration made from the samples.

    ``model`` is the PyTorch module itself, for runtimes that export from it (ExecuTorch) rather than from the graph;
    ``details`` collects what a builder alone knows (e.g. ExecuTorch's delegation counts) for report.json.
    ``calibration`` may be shared between contexts on the same graph and samples (it is made on first use)."""

    graph: FloatGraph
    samples: np.ndarray | None = field(default=None, repr=False)
    recipe: Int8Recipe = field(default_factory=Int8Recipe)
    progress: Progress = SILENT
    model: Any = field(default=None, repr=False)  # torch.nn.Module
    details: dict[str, dict] = field(default_factory=dict)  # kind name -> extra report.json entries
    calibration: Calibration | None = field(default=None, repr=False)
    meter: StageMeter | None = field(default=None, repr=False)  # times calibration as a stage of report.json

    @property
    def quantizer(self) -> Quantizer:
        return get_quantizer(self.recipe.quantizer)

    @property
    def io_dtype(self) -> str:
        return self.recipe.io_dtype

    def calibrated(self, method: str | None = None) -> bytes:
        """The fp32 model with the recipe's activation ranges (or ``method``'s), from this context's calibration."""
        if self.calibration is None:
            self.calibration = Calibration(
                self.graph.fp32, self.samples, self.graph.input_range, self.recipe.calibrator, self.meter
            )
        return self.calibration.model(self.quantizer, method or self.recipe.method, self.progress)


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
    needs_tf_graph: bool = False  # built from the TF graph (else that graph is released after the fp32 model)


KINDS: Registry[Kind] = Registry("artefact kind")
register = KINDS.register
