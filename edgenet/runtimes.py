"""The runtimes edgenet converts for, verifies on and benchmarks: one entry each, read by every layer.

A runtime says once what files it runs (suffixes, and the bytes that identify them), which class runs one for
verification and evaluation (:func:`edgenet.artifacts.runtime.runner_for`), which module times it for ``edgenet
bench`` (``edgenet.device_bench.backends.*``), its delegates and devices, whether it can run on this machine, and which
module registers the ``edgenet convert`` kinds that produce its files (``converters.*``). The pipeline, modelinfo,
bench and the CLI's choices all read this table, so a new runtime is one :func:`register` line here plus the
modules it names.

The classes and modules are named, not imported: this table sits in the core layer, and each layer loads only the
part it owns (:meth:`Runtime.load`), so reading it imports no runtime, no TensorFlow and nothing above core.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgenet.registry import Registry


def _needs(*modules: str, hint: str) -> Callable[[], str | None]:
    """An availability check: None when one of ``modules`` is importable here, else why not and how to fix it."""

    def unavailable() -> str | None:
        for m in modules:
            try:
                if importlib.util.find_spec(m) is not None:
                    return None
            except (ImportError, ValueError):
                continue
        return f"{' or '.join(modules)} is not installed here: {hint}"

    return unavailable


def _tensorrt_unavailable() -> str | None:
    from edgenet.artifacts.tensorrt_engine import tensorrt_unavailable

    return tensorrt_unavailable()


@dataclass(frozen=True)
class Runtime:
    """One runtime. ``name`` is also ``edgenet bench --backend NAME`` and a convert kind's ``runtime``."""

    name: str
    label: str  # in messages: "TFLite", "ExecuTorch"
    format: str  # what ``edgenet bench`` records as the model's format (the results db's ``model_format``)
    suffixes: tuple[str, ...]  # the first is what convert writes
    runner: str | None  # "module:Class" (core: edgenet.artifacts.runtime) that runs a file on one batch
    backend: str  # the module (edgenet.device_bench.backends.*) whose ``run(spec)`` times a file in a worker process
    delegates: tuple[str, ...] = ("none",)  # the first is the default
    devices: tuple[str, ...] = ("cpu",)  # the first is where it runs when the user does not say
    device_note: str = ""  # the one line shown for a --device it does not run on
    kinds: str | None = None  # the module (converters.*) that registers the convert kinds producing its files
    signature: tuple[int, bytes] | None = None  # (offset, bytes) that identify its files; None: by suffix
    unavailable: Callable[[], str | None] = lambda: None  # why it cannot run on this machine; None when it can
    tool: str = ""  # what builds its artefacts, named when a build fails

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    def load(self, ref: str):
        """The module (``"a.b"``) or attribute (``"a.b:C"``) ``ref`` names, imported now."""
        module, _, attr = ref.partition(":")
        mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod

    def identifies(self, head: bytes) -> bool:
        """Whether a file starting with ``head`` is one of this runtime's (by its bytes, not its name)."""
        if self.signature is None:
            return False
        at, magic = self.signature
        return head[at : at + len(magic)] == magic


RUNTIMES: Registry[Runtime] = Registry("runtime")
register = RUNTIMES.register
get_runtime = RUNTIMES.get_entry

register(
    Runtime(
        "tflite", "TFLite", "tflite", (".tflite",), "edgenet.artifacts.runtime:TFLiteRunner",
        "edgenet.device_bench.backends.tflite", ("xnnpack", "none", "edgetpu", "gpu", "nnapi"),  # gpu/nnapi: adb only
        device_note="TFLite runs on CPUs and Edge TPUs; use onnxruntime or torch for GPUs",
        kinds="edgenet.converters.kinds", signature=(4, b"TFL3"), tool="TFLiteConverter",
        unavailable=_needs("ai_edge_litert", "tflite_runtime", "tensorflow", hint="pip install ai-edge-litert"),
    )
)  # fmt: skip
register(
    Runtime(
        "onnxruntime", "ONNX Runtime", "onnx", (".onnx",), "edgenet.artifacts.runtime:OnnxRunner",
        "edgenet.device_bench.backends.onnxruntime", ("none", "tensorrt"), ("cpu", "cuda"),
        unavailable=_needs("onnxruntime", hint="pip install onnxruntime"), tool="onnxruntime.quantization",
    )
)  # fmt: skip
register(
    Runtime(
        "torch", "PyTorch", "checkpoint", (".pt",), None, "edgenet.device_bench.backends.torch", ("none",),
        ("cpu", "cuda"),
        signature=(0, b"PK\x03\x04"),  # torch.save's zip container
    )
)  # fmt: skip
register(
    Runtime(
        "executorch", "ExecuTorch", "pte", (".pte",), "edgenet.artifacts.runtime:ExecuTorchRunner",
        "edgenet.device_bench.backends.executorch", ("xnnpack",),  # what the .pte delegates is decided at export
        device_note="ExecuTorch runs .pte programs on the CPU here; use --device cpu",
        kinds="edgenet.converters.executorch", signature=(4, b"ET"),  # "ET12" in 1.x
        unavailable=_needs("executorch", hint="pip install 'edgenet[executorch]' (executorch 1.5.x for torch 2.14)"),
        tool="torch.export + XNNPACK",
    )
)  # fmt: skip
register(
    Runtime(
        "tensorrt", "TensorRT", "engine", (".engine", ".plan"), "edgenet.artifacts.runtime:TensorRTRunner",
        "edgenet.device_bench.backends.tensorrt", ("none",), ("cuda",),  # an engine runs on its GPU or nowhere
        kinds="edgenet.converters.tensorrt", unavailable=_tensorrt_unavailable, tool="TensorRT",
    )
)  # fmt: skip
register(
    Runtime(
        "ort", "ONNX Runtime Mobile", "ort", (".ort",), "edgenet.artifacts.runtime:OnnxRunner",
        "edgenet.device_bench.backends.onnxruntime", kinds="edgenet.converters.ort_format", signature=(4, b"ORTM"),
        unavailable=_needs("onnxruntime", hint="pip install onnxruntime"), tool="convert_onnx_models_to_ort",
    )
)  # fmt: skip


def runtime_for_file(path: str | Path) -> Runtime | None:
    """The runtime whose suffix ``path`` has (None for none)."""
    suffix = Path(path).suffix
    return next((rt for rt in RUNTIMES.values() if suffix in rt.suffixes), None)


def runtime_for_format(fmt: str) -> Runtime:
    return next(rt for rt in RUNTIMES.values() if rt.format == fmt)
