"""Run an artefact on one preprocessed batch: the same call for PyTorch, ONNX Runtime and TFLite.

Each runner takes float32 NCHW input (what :class:`edgenet.preprocess.Preprocess` produces) and returns float32
logits, quantizing the input and dequantizing the output of integer models with the tensor's own parameters, so
verification and evaluation compare like with like.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgenet.artifacts.tflite_model import dequantize, quantize, read_tflite
from edgenet.errors import EdgenetError


@dataclass(frozen=True)
class TensorIO:
    """A model's first input and output as its runtime reports them (what ``edgenet bench`` plans with)."""

    input_shape: tuple[int, ...]
    input_dtype: str
    output_shape: tuple[int, ...]
    output_dtype: str


ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
}


def tflite_interpreter_class() -> tuple[type, str]:
    """ai-edge-litert (current), else tflite-runtime (older boards), else TensorFlow's bundled interpreter."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow"
    except ImportError:
        raise EdgenetError("no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)") from None


class TFLiteRunner:
    """A .tflite model on the CPU (XNNPACK by default) taking NCHW float batches."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        self.info = read_tflite(self.path)
        cls, self.runtime = tflite_interpreter_class()
        try:  # a file that parses but that the runtime rejects (an op it lacks, a corrupt subgraph)
            self.interpreter = cls(model_path=str(self.path), num_threads=threads or os.cpu_count() or 1)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise EdgenetError(f"{self.path}: {self.runtime} cannot load this model: {first}") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.in_t, self.out_t = self.info.input_details[0], self.info.output_details[0]

    def io(self) -> TensorIO:
        return TensorIO(tuple(self.in_t.shape), self.in_t.dtype, tuple(self.out_t.shape), self.out_t.dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = []
        for sample in x:
            nhwc = np.ascontiguousarray(sample.transpose(1, 2, 0))[None]
            self.interpreter.set_tensor(self.input["index"], quantize(nhwc, self.in_t))
            self.interpreter.invoke()
            out.append(dequantize(self.interpreter.get_tensor(self.output["index"]), self.out_t)[0])
        return np.stack(out).astype(np.float32)


class OnnxRunner:
    """An .onnx model on ONNX Runtime's CPU execution provider.

    ``simulate_qdq`` turns graph optimizations off, so a Q/DQ model runs as written — quantize, the float op,
    dequantize — instead of through fused int8 kernels: the model's own numbers, whatever this CPU's kernels do."""

    def __init__(self, path: str | Path, threads: int | None = None, simulate_qdq: bool = False) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise EdgenetError(f"{path}: file not found")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.path, self.simulate_qdq = Path(path), simulate_qdq
        if simulate_qdq:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # ONNX Runtime's InvalidProtobuf, InvalidGraph, Fail… share no base class but this
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise EdgenetError(
                f"{path}: not a loadable ONNX model ({type(e).__name__}: {first}); pass the model.onnx that convert "
                "wrote, complete"
            ) from None
        self.input_name = self.session.get_inputs()[0].name

    def io(self) -> TensorIO:
        i, o = self.session.get_inputs()[0], self.session.get_outputs()[0]

        def dims(shape) -> tuple[int, ...]:  # a symbolic (batch) dimension counts as 1
            return tuple(d if isinstance(d, int) else 1 for d in shape)

        return TensorIO(dims(i.shape), ONNX_TYPES.get(i.type, i.type), dims(o.shape), ONNX_TYPES.get(o.type, o.type))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self.session.run(None, {self.input_name: s[None]})[0] for s in x]).astype(np.float32)


class TorchRunner:
    """A PyTorch module in eval mode, no autograd."""

    def __init__(self, model) -> None:
        self.model = model.eval()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(np.ascontiguousarray(x))).float().numpy()


# ExecuTorch's ScalarType codes (MethodMeta reports dtypes as these integers).
_ET_DTYPES = {0: "uint8", 1: "int8", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 15: "bfloat16"}


def executorch_threads(threads: int) -> None:
    """Size ExecuTorch's one process-wide thread pool (XNNPACK's and the optimized kernels' threads)."""
    from executorch.extension.pybindings import portable_lib

    if portable_lib._threadpool_get_thread_count() != threads:
        portable_lib._unsafe_reset_threadpool(threads)  # "unsafe" only while another method is executing


class ExecuTorchRunner:
    """An ExecuTorch ``.pte`` program (XNNPACK-delegated or portable kernels) through ``executorch.runtime``.

    Programs are exported for one 1×3×R×R image, so a batch runs one image at a time like :class:`TFLiteRunner`."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise EdgenetError(f"{self.path}: file not found")
        try:
            from executorch.runtime import Runtime
        except ImportError:
            raise EdgenetError(
                f"{self.path}: running an ExecuTorch program needs the executorch package: "
                "pip install 'edgenet[executorch]'"
            ) from None
        if threads:
            executorch_threads(threads)
        try:
            self.program = Runtime.get().load_program(self.path)
            self.method = self.program.load_method("forward")
        except (RuntimeError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise EdgenetError(f"{self.path}: ExecuTorch cannot load this program ({first})") from None
        meta = self.method.metadata
        tin, tout = meta.input_tensor_meta(0), meta.output_tensor_meta(0)
        self.input_shape, self.output_shape = tuple(tin.sizes()), tuple(tout.sizes())
        self.input_dtype = _ET_DTYPES.get(int(tin.dtype()), str(tin.dtype()))
        self.output_dtype = _ET_DTYPES.get(int(tout.dtype()), str(tout.dtype()))

    def io_sizes(self) -> tuple[int | None, int]:
        return int(self.input_shape[2]), int(self.output_shape[-1])

    def io(self) -> TensorIO:
        return TensorIO(self.input_shape, self.input_dtype, self.output_shape, self.output_dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        out = [
            self.method.execute([torch.from_numpy(np.ascontiguousarray(s[None], dtype=np.float32))])[0].numpy()[0]
            for s in x
        ]
        return np.stack(out).astype(np.float32)


class TensorRTRunner:
    """A serialized TensorRT engine on this machine's GPU; buffers are torch CUDA tensors (no pycuda needed)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from edgenet.artifacts.tensorrt_engine import load_engine

        self.path = Path(path)
        self.engine, self.context, self.inputs, self.outputs = load_engine(self.path)

    def io_sizes(self) -> tuple[int | None, int]:
        return int(self.inputs[0][1][2]), int(self.outputs[0][1][-1])

    def io(self) -> TensorIO:
        (_, shape, dt), (_, out, odt) = self.inputs[0], self.outputs[0]
        name = lambda t: str(t).removeprefix("torch.")  # noqa: E731
        return TensorIO(tuple(int(d) for d in shape), name(dt), tuple(int(d) for d in out), name(odt))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        (in_name, _, in_dtype), (out_name, out_shape, out_dtype) = self.inputs[0], self.outputs[0]
        outs = []
        stream = torch.cuda.current_stream()
        for s in x:
            xin = torch.from_numpy(np.ascontiguousarray(s[None], dtype=np.float32)).cuda().to(in_dtype)
            y = torch.empty(out_shape, dtype=out_dtype, device="cuda")
            self.context.set_tensor_address(in_name, xin.data_ptr())
            self.context.set_tensor_address(out_name, y.data_ptr())
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise EdgenetError(f"{self.path}: TensorRT failed to run the engine")
            stream.synchronize()
            outs.append(y.float().cpu().numpy()[0])
        return np.stack(outs).astype(np.float32)


def runner_class(path: str | Path) -> type | None:
    """The runner class of ``path``'s runtime (:mod:`edgenet.runtimes`, by suffix), None when none runs it."""
    from edgenet.runtimes import runtime_for_file

    rt = runtime_for_file(path)
    return rt.load(rt.runner) if rt is not None and rt.runner else None


def runner_for(path: str | Path, threads: int | None = None):
    """A ``predict`` for any file a registered runtime runs (NCHW float in, float logits out)."""
    from edgenet.runtimes import RUNTIMES

    path = Path(path)
    cls = runner_class(path)
    if cls is None:
        others = ", ".join(
            s for rt in RUNTIMES.values() if rt.runner for s in rt.suffixes if s not in (".tflite", ".onnx")
        )
        raise EdgenetError(f"{path}: unknown model type; pass a .tflite or .onnx file (or another runtime's: {others})")
    if cls is OnnxRunner and not path.is_file():
        raise EdgenetError(f"{path}: file not found")
    return cls(path, threads)
