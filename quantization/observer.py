"""Activation ranges on fast kernels: the fp32 ``.tflite`` itself, with a min and a max reduction after every
activation, run on XNNPACK and every core; the ranges then written as TFLite's calibrator writes them.

TFLite's calibrator records each tensor's min/max by running the model sample by sample on its single-threaded
float kernels with a logging wrapper around every op (143 ms a 224-px B0 image here; 13 s a 600-px B7 one). The
same numbers come from the *same* ``.tflite`` with a ``REDUCE_MIN`` and a ``REDUCE_MAX`` inserted right after
each op for each of its float outputs, their scalars the subgraph's outputs (:func:`with_reductions`): the mapping
is the identity — same file, same tensor names — and nothing is inferred about how onnx2tf or the MLIR quantizer
name things. Each activation is reduced as soon as it is made, so the memory planner still reuses its buffer: a
600-px B7 observed in 1.3 GB, against 5.4 GB with every activation kept as an output (one-off measurement;
:func:`expose`, which the histogram methods need).

Two quirks of the calibrator's logging are reproduced, because the quantizer reads its numbers as they are
(found by comparing the two on Lite0 and B0, tensor by tensor):

- it logs an op's *inputs after the op ran*, and TFLite runs some ops in place (a residual ADD writes its sum into
  the buffer of its conv input), so such an input's recorded range is the union of its own and the op's output
  — which input shares the output's buffer is read from the interpreter's own memory plan;
- its running maximum starts at ``FLT_MIN`` (the smallest positive float), so a tensor that is negative everywhere
  records a maximum of 1.2e-38, not its own.

On XNNPACK each range differs from the calibrator's by float rounding only (tested within 1 % of an int8 step;
measured ≤ 2.4e-4 step on the pretrained Lite0–2, docs/benchmarks/fast-calibration.md). On TFLite's builtin
kernels (``kernels="builtin"``, the calibrator's own) a few tensors still come out a last bit apart, so the int8
bytes are not identical there either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from edgenet.artifacts.tflite_model import tflite_schema
from edgenet.devices import available_cpus
from edgenet.diskarray import release
from edgenet.errors import EdgenetError
from edgenet.progress import SILENT, Progress

FLT_MIN = float(np.finfo(np.float32).tiny)  # the calibrator's initial running maximum


@dataclass
class Exposed:
    """The fp32 model rewritten to show its float activations, and what the calibrator would log of them."""

    model: bytes
    tensors: list[int]  # the observed tensors' indices (same in both models)
    names: list[str]
    inplace: list[tuple[int, int]]  # (op input, op output) pairs sharing one buffer in TFLite's memory plan
    reduced: bool = False  # outputs are (min, max) scalars per tensor, not the tensors themselves


def observable(fp32: bytes) -> bool:
    """Whether ``fp32`` has one subgraph (no control flow), the models this module observes."""
    return tflite_schema().Model.GetRootAsModel(fp32, 0).SubgraphsLength() == 1


def _unpack(fp32: bytes):
    if not observable(fp32):
        raise ValueError("fast range collection handles one-subgraph models; use calibrator='tflite'")
    return tflite_schema().ModelT.InitFromPackedBuf(bytearray(fp32), 0)


def _pack(model) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1 << 20)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _activations(model) -> list[int]:
    """Float tensors the calibrator logs: the model inputs and every op's outputs (constants excluded)."""
    sg, float32 = model.subgraphs[0], tflite_schema().TensorType.FLOAT32
    live = {int(i) for i in sg.inputs} | {int(o) for op in sg.operators for o in op.outputs if o >= 0}
    return sorted(i for i in live if sg.tensors[i].type == float32 and not _constant(model, sg.tensors[i]))


def _constant(model, tensor) -> bool:
    data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
    return data is not None and len(data) > 0


def inplace_pairs(fp32: bytes, model=None) -> list[tuple[int, int]]:
    """(input, output) tensor pairs of one op that share a buffer when TFLite plans memory for ``fp32`` as its
    calibrator's interpreter does (builtin kernels, no delegate): the inputs the calibrator logs overwritten."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgenet.quiet import native_stderr_captured

    model = model if model is not None else _unpack(fp32)
    with native_stderr_captured():
        it = Interpreter(
            model_content=fp32, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    it.allocate_tensors()

    def address(i: int) -> int | None:
        try:
            view = it.tensor(i)()
        except ValueError:  # no data planned (dynamic or unallocated): shares nothing
            return None
        at = view.ctypes.data
        del view  # the interpreter refuses to run while a view of its memory is held
        return at

    pairs = []
    for op in model.subgraphs[0].operators:
        outs = {address(int(o)): int(o) for o in op.outputs if o >= 0}
        outs.pop(None, None)
        for i in op.inputs:
            if i >= 0 and not _constant(model, model.subgraphs[0].tensors[i]) and address(int(i)) in outs:
                pairs.append((int(i), outs[address(int(i))]))
    return pairs


def expose(fp32: bytes) -> Exposed:
    """``fp32`` with every activation it would calibrate listed as a subgraph output (XNNPACK then materializes
    each one instead of fusing it away): what histograms need, at the cost of holding every activation."""
    model = _unpack(fp32)
    observed = _activations(model)
    inplace = inplace_pairs(fp32, model)
    sg = model.subgraphs[0]
    names = [sg.tensors[i].name.decode() for i in observed]
    sg.outputs = np.asarray(observed, np.int32)
    return Exposed(_pack(model), observed, names, inplace)


def with_reductions(fp32: bytes) -> Exposed:
    """``fp32`` with a ``REDUCE_MIN`` and a ``REDUCE_MAX`` over all axes right after every observed activation
    is made (the model input first); their scalars, in pairs, are the subgraph's outputs."""
    schema = tflite_schema()
    model = _unpack(fp32)
    observed = _activations(model)
    inplace = inplace_pairs(fp32, model)
    sg, wanted = model.subgraphs[0], set(observed)
    reduce = _Reducer(model, schema)
    ops = [op for t in sg.inputs if int(t) in wanted for op in reduce(int(t))]
    for op in sg.operators:
        ops += [op, *(r for o in op.outputs if int(o) in wanted for r in reduce(int(o)))]
    sg.operators = ops
    sg.outputs = np.asarray(reduce.outputs, np.int32)
    names = [sg.tensors[i].name.decode() for i in reduce.order]  # execution order, not tensor-index order
    return Exposed(_pack(model), reduce.order, names, inplace, reduced=True)


class _Reducer:
    """Appends the tensors and ops of one activation's min and max reductions to an unpacked model."""

    def __init__(self, model, schema) -> None:
        self.model, self.s, self.sg = model, schema, model.subgraphs[0]
        self.codes = {
            c: self._opcode(c) for c in (schema.BuiltinOperator.REDUCE_MIN, schema.BuiltinOperator.REDUCE_MAX)
        }
        self.axes: dict[int, int] = {}
        self.outputs: list[int] = []
        self.order: list[int] = []  # the reduced tensors, in the order of their outputs' pairs

    def _opcode(self, code: int) -> int:
        for i, oc in enumerate(self.model.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
                return i
        oc = self.s.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        self.model.operatorCodes.append(oc)
        return len(self.model.operatorCodes) - 1

    def _tensor(self, name: bytes, shape, dtype: int, data: np.ndarray | None = None) -> int:
        buf = self.s.BufferT()
        buf.data = None if data is None else data.view(np.uint8)
        self.model.buffers.append(buf)
        t = self.s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.asarray(shape, np.int32), dtype, len(self.model.buffers) - 1
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def __call__(self, t: int) -> list:
        rank = len(self.sg.tensors[t].shape)
        if rank not in self.axes:
            self.axes[rank] = self._tensor(
                f"edgenet/axes_{rank}".encode(), [rank], self.s.TensorType.INT32, np.arange(rank, dtype=np.int32)
            )
        ops = []
        for tag, index in zip(("min", "max"), self.codes.values(), strict=True):
            out = self._tensor(self.sg.tensors[t].name + f"/edgenet_{tag}".encode(), [], self.s.TensorType.FLOAT32)
            op = self.s.OperatorT()
            op.opcodeIndex, op.inputs = index, np.array([t, self.axes[rank]], np.int32)
            op.outputs = np.array([out], np.int32)
            op.builtinOptionsType = self.s.BuiltinOptions.ReducerOptions
            op.builtinOptions = self.s.ReducerOptionsT()
            op.builtinOptions.keepDims = False
            ops.append(op)
            self.outputs.append(out)
        self.order.append(t)
        return ops


def _interpreter(model: bytes, kernels: str, threads: int):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgenet.quiet import native_stderr_captured

    resolver = {"xnnpack": OpResolverType.AUTO, "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}[kernels]
    with native_stderr_captured():
        it = Interpreter(model_content=model, num_threads=threads, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    return it


def _passes(
    exposed: Exposed, samples: np.ndarray, kernels: str, threads: int | None, progress: Progress, what: str
) -> Iterator[Callable[[int], np.ndarray]]:
    """Runs each sample (NCHW, one at a time: ``samples`` may be a memory map) and yields a reader of its tensors.

    The reader's arrays are views into the interpreter: use them before asking for the next sample."""
    it = _interpreter(exposed.model, kernels, threads or available_cpus())
    inp = it.get_input_details()[0]["index"]
    outs = [d["index"] for d in it.get_output_details()]
    for i in progress.iterate(range(len(samples)), what, len(samples), "img"):
        it.set_tensor(inp, np.ascontiguousarray(samples[i].transpose(1, 2, 0), np.float32)[None])
        release(samples, i)  # a disk-backed sample leaves memory once copied in
        it.invoke()
        yield lambda k: it.tensor(outs[k])()


def observe(
    exposed: Exposed,
    samples: np.ndarray,
    kernels: str = "xnnpack",
    threads: int | None = None,
    progress: Progress = SILENT,
) -> tuple[np.ndarray, np.ndarray]:
    """Each observed tensor's true min and max over ``samples`` (float32 arrays in ``exposed.tensors`` order)."""
    n = len(exposed.tensors)
    lo, hi = np.full(n, np.inf, np.float32), np.full(n, -np.inf, np.float32)
    for read in _passes(exposed, samples, kernels, threads, progress, "calibrating"):
        if exposed.reduced:  # the graph reduced each tensor: 2n scalars
            v = np.array([read(k) for k in range(2 * n)], np.float32).reshape(n, 2)
            np.minimum(lo, v[:, 0], out=lo)
            np.maximum(hi, v[:, 1], out=hi)
            continue
        for k in range(n):
            v = read(k)
            lo[k], hi[k] = min(lo[k], v.min()), max(hi[k], v.max())
            del v
    return lo, hi


def as_logged(exposed: Exposed, lo: np.ndarray, hi: np.ndarray) -> dict[str, tuple[float, float]]:
    """The ranges TFLite's calibrator records from these true ones: in-place inputs widened by the op's output,
    every maximum at least ``FLT_MIN`` (see the module's docstring)."""
    bad = [n for n, a, b in zip(exposed.names, lo, hi, strict=True) if not (np.isfinite(a) and np.isfinite(b))]
    if bad:
        raise EdgenetError(
            f"the fp32 model's activation {bad[0]!r} is NaN or infinite on the calibration images ({len(bad)} "
            "such tensors): int8 ranges cannot be taken from it; check the weights and the calibration images"
        )
    at = {t: k for k, t in enumerate(exposed.tensors)}
    lo2, hi2 = lo.copy(), hi.copy()
    for i, o in exposed.inplace:
        if i in at and o in at:
            lo2[at[i]] = min(lo2[at[i]], lo[at[o]])
            hi2[at[i]] = max(hi2[at[i]], hi[at[o]])
    hi2 = np.maximum(hi2, np.float32(FLT_MIN))
    return {n: (float(a), float(b)) for n, a, b in zip(exposed.names, lo2, hi2, strict=True)}


def calibrated_model(fp32: bytes, ranges: Mapping[str, tuple[float, float]]) -> bytes:
    """``fp32`` with ``ranges`` recorded in each tensor's ``quantization.min/max``: the calibrated model TF's MLIR
    quantizer and ai-edge-quantizer read."""
    from edgenet.artifacts.tflite_model import tflite_schema

    schema = tflite_schema()
    model = _unpack(fp32)
    for t in model.subgraphs[0].tensors:
        r = ranges.get(t.name.decode())
        if r is None:
            continue
        q = t.quantization or schema.QuantizationParametersT()
        q.min, q.max = np.array([r[0]], np.float32), np.array([r[1]], np.float32)
        t.quantization = q
    return _pack(model)


def calibrate_fast(
    fp32: bytes, samples: np.ndarray, kernels: str = "xnnpack", threads: int | None = None, progress: Progress = SILENT
) -> bytes:
    """The calibrated model (what :func:`edgenet.quantization.calibrator.calibrate` returns) from one fast pass."""
    exposed = with_reductions(fp32)
    lo, hi = observe(exposed, samples, kernels, threads, progress)
    return calibrated_model(fp32, as_logged(exposed, lo, hi))


def histograms(
    exposed: Exposed,
    samples: np.ndarray,
    ranges: Mapping[str, tuple[float, float]],
    bins: int,
    kernels: str = "xnnpack",
    progress: Progress = SILENT,
) -> dict[str, np.ndarray]:
    """Each named tensor's histogram over ``samples``: ``bins`` equal steps on its range, from the same fast pass."""
    keys = [(k, n) for k, n in enumerate(exposed.names) if n in ranges]
    hist = {n: np.zeros(bins, np.int64) for _, n in keys}
    for read in _passes(exposed, samples, kernels, None, progress, "activation histograms"):
        for k, n in keys:
            v = read(k)
            hist[n] += np.histogram(v, bins, range=ranges[n])[0]
            del v
    return hist
