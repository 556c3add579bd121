"""Predict, from the flatbuffer alone, which operations ``edgetpu_compiler`` will map to the Edge TPU.

The rules are Coral's documented requirements (every tensor 8-bit quantized, static sizes, only the 3 innermost
dimensions larger than 1, operations from the supported list within their limitations — see :mod:`ops`) plus how
the compiler partitions: it builds ONE Edge TPU subgraph, so the first operation it cannot map ends that subgraph
and everything after it runs on the CPU ("More than one subgraph is not supported"). Two boundary cases recorded
in real compiler logs do not end it: a QUANTIZE that converts a float model input (left on the CPU, "otherwise
supported, but not mapped due to some unspecified limitation") and a DEQUANTIZE that produces a float model output
("working on an unsupported data type"). Each prediction carries the status string the compiler prints in that
situation, so it can be compared line by line with a real log (tests/fixtures/edgetpu_compiler/).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from edgenet.converters.edgetpu.ops import SUPPORTED, fix_for_unsupported

from edgenet.artifacts.tflite_model import OpInfo, TFLiteModel

# Status strings exactly as edgetpu_compiler prints them (see the recorded logs).
MAPPED = "Mapped to Edge TPU"
DATA_TYPE = "Operation is working on an unsupported data type"
NOT_SUPPORTED = "Operation not supported"
LIMITATION = "Operation is otherwise supported, but not mapped due to some unspecified limitation"
AFTER_BLOCKER = "More than one subgraph is not supported"
RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
STRIDES = "Only Strided-Slice with unitary strides supported"
VERSION = "Operation version not supported"

FLOAT_MODEL_FIX = "float model: convert with full-integer quantization (edgenet convert --int8 --int8-io uint8)"
FLOAT_INPUT_FIX = "float input: convert with --int8-io uint8 so the input is already 8-bit"
FLOAT_OUTPUT_FIX = "float output: convert with --int8-io uint8 so the output stays 8-bit"
TRANSPOSE_FIX = (
    "TRANSPOSE left by conversion (an NCHW/NHWC layout change): convert with `edgenet convert`, whose NHWC graph "
    "has no TRANSPOSE, or remove the permute from the model"
)
SHAPE_FIX = "convert with batch 1 and a fixed input size (edgenet convert --img-size S)"

# Operator versions edgetpu_compiler 16 cannot parse ("Didn't find op for builtin opcode ... version ...").
UNPARSEABLE_VERSION = {
    "QUANTIZE": (3, "google-coral/edgetpu#879"),
    "TRANSPOSE_CONV": (4, "google-coral/edgetpu#845"),
}
# Sum of "on-chip used" and "remaining" parameter cache in the recorded compiler-16 logs: about 7-8 MiB.
ON_CHIP_CACHE_BYTES = 7 * 2**20
_EIGHT_BIT = ("int8", "uint8")


@dataclass
class OpPrediction:
    index: int
    opcode: str
    device: str  # "edgetpu" | "cpu"
    status: str  # what edgetpu_compiler prints for this op
    reason: str = ""
    fix: str = ""


@dataclass
class EdgeTPUCheck:
    """Per-operation prediction in execution order, with the first blocker and one fix per blocker."""

    model: str
    ops: list[OpPrediction]
    first_blocker: OpPrediction | None
    blockers: list[OpPrediction]  # ops left on the CPU for their own reason (not merely after the blocker)
    rejects: str | None = None  # the compiler refuses the whole file (e.g. "Model not quantized")
    notes: list[str] = field(default_factory=list)
    param_bytes: int = 0  # constant data of the ops predicted on the Edge TPU

    @property
    def counts(self) -> dict[str, int]:
        n = sum(o.device == "edgetpu" for o in self.ops)
        return {"edgetpu": n, "cpu": len(self.ops) - n, "total": len(self.ops)}

    @property
    def fixes(self) -> list[str]:
        return list(dict.fromkeys(o.fix for o in self.blockers if o.fix))

    @property
    def all_on_edgetpu(self) -> bool:
        return bool(self.ops) and self.counts["cpu"] == 0 and self.rejects is None

    @property
    def exit_code(self) -> int:
        """0 when the whole graph is predicted on the Edge TPU, 3 when only part of it (or none) is."""
        return 0 if self.all_on_edgetpu else 3

    def table(self) -> list[dict]:
        """(op, count, status) rows like the compiler's operation log, in order of first appearance."""
        rows = Counter((o.opcode, o.status) for o in self.ops)
        return [{"op": op, "count": n, "status": status} for (op, status), n in rows.items()]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "all_on_edgetpu": self.all_on_edgetpu,
            "counts": self.counts,
            "rejects": self.rejects,
            "first_blocker": asdict(self.first_blocker) if self.first_blocker else None,
            "fixes": self.fixes,
            "param_bytes": self.param_bytes,
            "notes": self.notes,
            "table": self.table(),
            "ops": [asdict(o) for o in self.ops],
        }


def _tensor_problem(model: TFLiteModel, op: OpInfo) -> tuple[str, str, str] | None:
    """(status, reason, fix) for the first tensor of ``op`` that breaks Coral's tensor requirements."""
    for idx in (*op.inputs, *op.outputs):
        if idx < 0:
            continue
        t = model.tensors[idx]
        if t.is_constant:
            if t.dtype.startswith("float"):
                return DATA_TYPE, f"{t.dtype} constant '{t.name}'", FLOAT_MODEL_FIX
            continue
        if t.dtype not in _EIGHT_BIT:
            return DATA_TYPE, f"{t.dtype} tensor '{t.name}'", FLOAT_MODEL_FIX
        if any(d < 0 for d in t.shape_signature):
            return LIMITATION, f"dynamic size {list(t.shape_signature)} of '{t.name}'", SHAPE_FIX
        if len(t.shape) > 3 and any(d > 1 for d in t.shape[:-3]):
            return RANK, f"'{t.name}' {list(t.shape)} has more than the 3 innermost dimensions > 1", SHAPE_FIX
    return None


def _own_verdict(model: TFLiteModel, op: OpInfo) -> tuple[str, str, str] | None:
    """Why ``op`` cannot be mapped, judged on its own (status, reason, fix); None when it can be."""
    if op.opcode == "CUSTOM:edgetpu-custom-op":
        return None
    if op.opcode in UNPARSEABLE_VERSION and op.version >= UNPARSEABLE_VERSION[op.opcode][0]:
        src = UNPARSEABLE_VERSION[op.opcode][1]
        return VERSION, f"{op.opcode} version {op.version} is newer than compiler 16 can parse ({src})", ""
    src = model.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    if op.opcode == "QUANTIZE" and src is not None and src.dtype.startswith("float"):
        fix = FLOAT_INPUT_FIX if src.index in model.inputs else FLOAT_MODEL_FIX
        return LIMITATION, "quantizes a float tensor (runs on the CPU)", fix
    if op.opcode == "DEQUANTIZE":
        at_output = any(o in model.outputs for o in op.outputs)
        return DATA_TYPE, "dequantizes to float", FLOAT_OUTPUT_FIX if at_output else fix_for_unsupported("DEQUANTIZE")
    rule = SUPPORTED.get(op.opcode)
    if rule is None:
        problem = _tensor_problem(model, op)
        if problem and problem[0] == DATA_TYPE:
            return problem
        return NOT_SUPPORTED, f"{op.opcode} is not in Coral's supported-operation list", fix_for_unsupported(op.opcode)
    if problem := _tensor_problem(model, op):
        return problem
    if op.opcode == "TRANSPOSE":
        # Listed since compiler 16, yet recorded logs show layout transposes left unmapped (google-coral/edgetpu#433).
        return LIMITATION, "TRANSPOSE (layout permutations are typically left unmapped)", TRANSPOSE_FIX
    if rule.check and (broken := rule.check(model, op)):
        status = STRIDES if op.opcode == "STRIDED_SLICE" and "strides" in broken else LIMITATION
        fix = rule.fix or f"respect Coral's limitation for {rule.coral_name}: {rule.limitation}"
        return status, f"{rule.coral_name}: {broken} ({rule.limitation})", fix
    return None


def _quantized(model: TFLiteModel) -> bool:
    """The compiler's "Model not quantized" test: some activation tensor must be 8-bit."""
    return any(not t.is_constant and t.dtype in _EIGHT_BIT for t in model.tensors)


def _tensor_bytes(model: TFLiteModel, idx: int) -> int:
    t = model.tensors[idx]
    try:
        item = np.dtype(t.dtype).itemsize
    except TypeError:
        item = 1
    return int(np.prod(t.shape)) * item if t.shape else item


def check_model(model: TFLiteModel) -> EdgeTPUCheck:
    """Predict the compiler's per-operation placement for ``model`` (see the module docstring for the rules)."""
    preds: list[OpPrediction] = []
    blocker: OpPrediction | None = None
    started = False
    quantized = _quantized(model)
    for op in model.ops:
        own = _own_verdict(model, op)
        if not quantized and own is None:
            own = (DATA_TYPE, "no 8-bit activation tensor in the model", FLOAT_MODEL_FIX)
        if own is None and blocker is None:
            preds.append(OpPrediction(op.index, op.opcode, "edgetpu", MAPPED))
            started = True
            continue
        if own is None:
            reason = f"after the first blocker (op {blocker.index} {blocker.opcode}): one Edge TPU subgraph only"
            preds.append(OpPrediction(op.index, op.opcode, "cpu", AFTER_BLOCKER, reason))
            continue
        pred = OpPrediction(op.index, op.opcode, "cpu", *own)
        preds.append(pred)
        at_input = op.opcode == "QUANTIZE" and not started and op.inputs[0] in model.inputs
        at_output = op.opcode == "DEQUANTIZE" and any(o in model.outputs for o in op.outputs)
        if blocker is None and not (quantized and (at_input or at_output)):
            blocker = pred
    own_cpu = [p for p in preds if p.device == "cpu" and p.status != AFTER_BLOCKER]
    rejects = None
    if not quantized:
        rejects = "Model not quantized: the compiler refuses the whole file (google-coral/edgetpu#213)"
    elif bad := next((p for p in preds if p.status == VERSION), None):
        rejects = f"Model could not be parsed: {bad.reason}"
    if rejects:  # nothing is compiled at all
        for p in preds:
            p.device = "cpu"
    first = blocker or (own_cpu[0] if own_cpu else None)
    on_tpu = {op.index for op, p in zip(model.ops, preds) if p.device == "edgetpu"}
    params = {i for op in model.ops if op.index in on_tpu for i in op.inputs if i >= 0 and model.tensors[i].is_constant}
    param_bytes = sum(_tensor_bytes(model, i) for i in params)
    return EdgeTPUCheck(
        model=str(model.path),
        ops=preds,
        first_blocker=first,
        blockers=own_cpu,
        rejects=rejects,
        notes=_notes(model, param_bytes),
        param_bytes=param_bytes,
    )


def _notes(model: TFLiteModel, param_bytes: int) -> list[str]:
    notes = []
    if model.num_subgraphs > 1:
        notes.append(f"{model.num_subgraphs} subgraphs in the file: only the first (main) graph was checked")
    for opcode in dict.fromkeys(o.opcode for o in model.ops):
        if (rule := SUPPORTED.get(opcode)) and rule.note:
            notes.append(f"{opcode}: {rule.note} (cannot be predicted from the file)")
    if param_bytes > ON_CHIP_CACHE_BYTES:
        notes.append(
            f"{param_bytes / 2**20:.1f} MiB of parameters: more than the ~7-8 MiB the Edge TPU caches on chip "
            "(recorded compiler logs); the rest streams from host memory on every inference"
        )
    return notes
