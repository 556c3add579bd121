"""Run an artefact on one preprocessed batch: the same call for PyTorch, ONNX Runtime and TFLite.

Each runner takes float32 NCHW input (what :class:`edgenet.preprocess.Preprocess` produces) and returns float32
logits, quantizing the input and dequantizing the output of integer models with the tensor's own parameters, so
verification and evaluation compare like with like.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgenet.artifacts.tflite_model import dequantize, quantize, read_tflite
from edgenet.errors import EdgenetError


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

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = []
        for sample in x:
            nhwc = np.ascontiguousarray(sample.transpose(1, 2, 0))[None]
            self.interpreter.set_tensor(self.input["index"], quantize(nhwc, self.in_t))
            self.interpreter.invoke()
            out.append(dequantize(self.interpreter.get_tensor(self.output["index"]), self.out_t)[0])
        return np.stack(out).astype(np.float32)


class OnnxRunner:
    """An .onnx model on ONNX Runtime's CPU execution provider."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise EdgenetError(f"{path}: file not found")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # ONNX Runtime's InvalidProtobuf, InvalidGraph, Fail… share no base class but this
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise EdgenetError(
                f"{path}: not a loadable ONNX model ({type(e).__name__}: {first}); pass the model.onnx that convert "
                "wrote, complete"
            ) from None
        self.input_name = self.session.get_inputs()[0].name

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


def runner_for(path: str | Path, threads: int | None = None):
    """A ``predict`` for a .tflite or .onnx file (NCHW float in, float logits out)."""
    path = Path(path)
    if path.suffix == ".tflite":
        return TFLiteRunner(path, threads)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise EdgenetError(f"{path}: file not found")
        return OnnxRunner(path, threads)
    raise EdgenetError(f"{path}: unknown model type; pass a .tflite or .onnx file")
