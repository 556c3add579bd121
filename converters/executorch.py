"""ExecuTorch artefacts: the PyTorch model exported with ``torch.export`` and lowered to XNNPACK in a ``.pte``.

fp32 is the exported graph as is; int8 is quantized in PT2E with the XNNPACK quantizer (per-channel symmetric
weights, activations calibrated on the same samples as the TFLite int8 model), set up to quantize as TFLite does
(:func:`tflite_like_quantizer`): a ReLU6 (hardtanh) after a conv is quantized *after* the clamp, with min/max
ranges. The stock setup shares one observer between the conv's raw output and the clamp, so each ReLU6 output got
the step of the conv's whole range (several times TFLite's) and ran as a clamp of its own: ExecuTorch int8 of
Lite0 lost 5.3 points and ran 2.4× slower than TFLite int8 (docs/runtimes.md). Both are lowered with the XNNPACK
partitioner; whatever it does not take stays on ExecuTorch's portable CPU kernels, which are far slower, so the
report records per model how much was delegated (ExecuTorch's docs warn that SiLU/sigmoid are not quantized there,
which may split B0 into several delegated pieces).

The delegation counts come from the lowered graph at build time (only there are the ops inside a delegate still
visible); :func:`pte_census` reads what the file itself will execute (kernel calls and delegate calls).
"""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from edgenet.converters.kind import BuildContext, Description, Kind, register

from edgenet.errors import EdgenetError

INSTALL_HINT = "pip install 'edgenet[executorch]' (executorch 1.5.x for torch 2.14)"


def require_executorch() -> None:
    """A one-line error naming the fix when the ``executorch`` package is missing."""
    try:
        import executorch.exir  # noqa: F401
    except ImportError as e:
        raise EdgenetError(f"ExecuTorch artefacts need the executorch package ({e}); {INSTALL_HINT}") from None


@dataclass(frozen=True)
class Delegation:
    """How much of a lowered program XNNPACK runs: ops inside its partitions vs ops left to portable kernels."""

    backend: str
    partitions: int  # delegate calls in the program
    delegated_ops: int  # compute ops inside XNNPACK partitions (quantize/dequantize nodes counted apart)
    portable_ops: int  # compute ops that run on ExecuTorch's own (portable/optimized) CPU kernels
    portable_by_op: dict[str, int]
    delegated_by_op: dict[str, int]
    qdq_delegated: int = 0  # quantize/dequantize nodes inside partitions (int8: XNNPACK fuses them)
    qdq_portable: int = 0  # … and outside, run by the portable quantized kernels

    def to_dict(self) -> dict:
        return asdict(self)


def _op_name(target) -> str:
    name = getattr(target, "__name__", None) or str(target)
    return name.removeprefix("aten.")


def _is_qdq(op: str) -> bool:
    return op.startswith("quantized_decomposed.")


def delegation(graph_module, backend: str = "XnnpackBackend") -> Delegation:
    """Count delegated and non-delegated ops of a lowered edge graph (``getitem`` glue is not an op)."""
    portable: Counter[str] = Counter()
    delegated: Counter[str] = Counter()
    partitions = 0
    for node in graph_module.graph.nodes:
        if node.op == "get_attr" and node.name.startswith("lowered_module_"):
            partitions += 1
            lowered = getattr(graph_module, node.name)
            for inner in lowered.original_module.graph.nodes:
                if inner.op == "call_function" and inner.target is not operator.getitem:
                    delegated[_op_name(inner.target)] += 1
        elif (
            node.op == "call_function"
            and node.target is not operator.getitem
            and "executorch_call_delegate" not in str(node.target)
        ):
            portable[_op_name(node.target)] += 1
    qdq_in = sum(n for op, n in delegated.items() if _is_qdq(op))
    qdq_out = sum(n for op, n in portable.items() if _is_qdq(op))
    delegated = Counter({op: n for op, n in delegated.items() if not _is_qdq(op)})
    portable = Counter({op: n for op, n in portable.items() if not _is_qdq(op)})
    return Delegation(
        backend,
        partitions,
        sum(delegated.values()),
        sum(portable.values()),
        dict(portable.most_common()),
        dict(delegated.most_common()),
        qdq_in,
        qdq_out,
    )


def pte_census(data: bytes) -> dict[str, int]:
    """What the ``.pte`` executes: kernel calls by operator and delegate calls by backend (``DELEGATE:Xnnpack…``)."""
    from executorch.exir._serialize._program import deserialize_pte_binary
    from executorch.exir.schema import DelegateCall, KernelCall

    plan = deserialize_pte_binary(data).program.execution_plan[0]
    census: Counter[str] = Counter()
    for chain in plan.chains:
        for ins in chain.instructions:
            args = ins.instr_args
            if isinstance(args, KernelCall):
                op = plan.operators[args.op_index]
                census[op.name + (f".{op.overload}" if op.overload else "")] += 1
            elif isinstance(args, DelegateCall):
                census[f"DELEGATE:{plan.delegates[args.delegate_index].id}"] += 1
    return dict(census)


def describe_pte(kind: Kind, path, runner) -> Description:
    """What the ``.pte`` executes (:func:`pte_census`) and its I/O types; ops left outside XNNPACK are a warning
    (they run on portable kernels, far slower)."""
    ops = pte_census(path.read_bytes())
    portable = {op: n for op, n in ops.items() if not op.startswith("DELEGATE:")}
    warnings = []
    if portable:
        listed = ", ".join(f"{op}×{n}" for op, n in sorted(portable.items(), key=lambda t: -t[1])[:5])
        warnings.append(f"{kind.name}: {sum(portable.values())} op(s) outside XNNPACK, on portable kernels: {listed}")
    return Description(ops, runner.input_dtype, runner.output_dtype, warnings)


def export_pte(
    model, resolution: int, samples: np.ndarray | None = None, progress=None, stock: bool = False
) -> tuple[bytes, Delegation]:
    """The ``.pte`` bytes of ``model`` on one 3×R×R image (int8 when calibration ``samples`` are given; ``stock``:
    with ExecuTorch's own quantizer setup, for comparison)."""
    require_executorch()
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    model = model.eval()
    example = (torch.zeros(1, 3, resolution, resolution),)
    with torch.no_grad():
        if samples is not None:
            model = _quantized(model, example, samples, progress, stock)
        exported = torch.export.export(model, example)
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
        info = delegation(edge.exported_program().graph_module)
        program = edge.to_executorch()
    return bytes(program.buffer), info


def tflite_like_quantizer(stock: bool = False):
    """The XNNPACK quantizer quantizing as TFLite's: per-channel symmetric weights, per-tensor min/max activation
    ranges (TFLite's calibration, not a histogram's), and a clamp (ReLU6 → hardtanh) after a conv, linear or add
    quantized on its output only, so XNNPACK fuses it into that op as its output bounds. ``stock``: the quantizer
    as ExecuTorch ships it (histogram ranges; the clamp shares its input's observer)."""
    import dataclasses

    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e import MinMaxObserver

    config = get_symmetric_quantization_config(is_per_channel=True)
    if stock:
        return XNNPACKQuantizer().set_global(config)
    act = dataclasses.replace(config.input_activation, observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2**-12))
    config = dataclasses.replace(config, input_activation=act, output_activation=act)
    clamps = (torch.ops.aten.hardtanh.default, torch.ops.aten.hardtanh_.default)

    class TFLiteLike(XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            for node in model.graph.nodes:
                if node.op != "call_function" or node.target not in clamps:
                    continue
                src, key = node.args[0], "quantization_annotation"
                before, own = src.meta.get(key), node.meta.get(key)
                if before is None or own is None or before.output_qspec is None or len(src.users) != 1:
                    continue
                own.input_qspec_map, own.output_qspec, before.output_qspec = {}, before.output_qspec, None
            return model

    return TFLiteLike().set_global(config)


def _quantized(model, example: tuple, samples: np.ndarray, progress=None, stock: bool = False):
    """PT2E: annotate (:func:`tflite_like_quantizer`), calibrate one image at a time, convert to Q/DQ."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = tflite_like_quantizer(stock)
    prepared = prepare_pt2e(torch.export.export(model, example).module(), quantizer)
    for i, x in enumerate(samples):
        prepared(torch.from_numpy(np.ascontiguousarray(x[None], dtype=np.float32)))
        if progress is not None and (i + 1) % 25 == 0:
            progress.step(f"  PT2E calibration {i + 1}/{len(samples)}")
    return convert_pt2e(prepared)


def _builder(int8: bool):
    def build(ctx: BuildContext) -> bytes:
        if ctx.model is None:
            raise EdgenetError("ExecuTorch artefacts are exported from the PyTorch model; pass it in BuildContext")
        samples = ctx.samples if int8 else None
        if int8 and (samples is None or not len(samples)):
            raise ValueError("this artefact kind needs calibration samples")
        data, info = export_pte(ctx.model, ctx.graph.resolution, samples, ctx.progress)
        ctx.details[f"executorch_{'int8' if int8 else 'fp32'}"] = {"delegation": info.to_dict()}
        return data

    return build


# XNNPACK fp32 vs ONNX Runtime: same float maths in other kernels and orders, like TFLite's (graph.TFLITE_*).
register(
    Kind(
        "executorch_fp32",
        "model_fp32.pte",
        "ExecuTorch float32, XNNPACK-delegated (phones: PyTorch's own runtime)",
        _builder(False),
        reference="onnx",
        runtime="executorch",
        tolerance=(1e-3, 1e-3),
        describe=describe_pte,
    )
)
register(
    Kind(
        "executorch_int8",
        "model_int8.pte",
        "ExecuTorch int8 (PT2E, XNNPACK quantizer, per-channel weights), XNNPACK-delegated",
        _builder(True),
        calibrated=True,
        reference="executorch_fp32",
        runtime="executorch",
        describe=describe_pte,
    )
)
