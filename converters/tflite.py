"""Stage 2: ONNX → TensorFlow graph (NHWC) with onnx2tf, fully offline.

onnx2tf translates layouts op by op so no TRANSPOSE is left in a standard EfficientNet. Three things about it
are handled here rather than worked around by users:

- it fetches a 20×128×128×3 sample-image file from the internet for a sanity inference of every image model
  unless that file is in the current directory. We run it inside a private temporary directory holding a
  generated file of that name, so nothing is downloaded and nothing is left in the user's directory;
- its own model saving goes through Keras' SavedModel metadata, which takes ~100 s for B0. We ask it for the
  in-memory graph only (``disable_model_save``) and serialize TFLite ourselves (``tflite_converter``) in ~4 s;
- before translating, it runs the ONNX model once in ONNX Runtime with *every* op's output exposed and keeps them
  all: 6.7 GB resident for B7 at 600 px. Its fast (non-strict) mode reads only their shapes, so there we give it
  arrays of the right shapes from ONNX's shape inference that take no memory (:func:`shapes_only_inference`).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edgenet.quiet import quiet_tensorflow

ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"


@contextlib.contextmanager
def offline_workdir() -> Iterator[Path]:
    """A temporary cwd holding onnx2tf's sample file, so it never goes to the network; cwd restored after."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="edgenet-onnx2tf-") as tmp:
        sample = np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
        np.save(Path(tmp) / ONNX2TF_SAMPLE, sample)
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _static_shapes(model) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every value's static shape and dtype in ``model`` (ONNX shape inference; dynamic ones left out)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if t.HasField("shape") and all(d >= 0 for d in dims):
            out[v.name] = (tuple(dims), onnx.helper.tensor_dtype_to_np_dtype(t.elem_type))
    return out


@contextlib.contextmanager
def shapes_only_inference() -> Iterator[None]:
    """While onnx2tf converts in its fast mode, its "dummy inference" returns zero-memory arrays of each output's
    shape (``np.broadcast_to``) instead of running ONNX Runtime and holding every activation; a graph whose shapes
    are not all static falls back to the real inference. Only the non-strict mode may use this: strict mode
    compares the values."""
    import onnx2tf.onnx2tf as o2t

    real = o2t.dummy_onnx_inference

    def shapes_only(*, onnx_graph, output_names, **kwargs):
        try:
            shapes = _static_shapes(onnx_graph)
        except Exception:  # shape inference failed: onnx2tf's own inference decides
            shapes = {}
        if any(n not in shapes for n in output_names):
            return real(onnx_graph=onnx_graph, output_names=output_names, **kwargs)
        return [np.broadcast_to(np.zeros((), shapes[n][1]), shapes[n][0]) for n in output_names]

    o2t.dummy_onnx_inference = shapes_only
    try:
        yield
    finally:
        o2t.dummy_onnx_inference = real


def onnx_to_tf(onnx_path: str | Path, model_name: str | None = None, strict: bool = False):
    """Translate an ONNX file into a ``tf_keras`` model (NHWC input) without touching disk or network.

    ``strict=False`` skips onnx2tf's strict mode, which runs the partial Keras model on dummy inputs at every MEAN
    and MUL to settle axes: 1.8 of 4.0 s on B0, 4.2 of 7.5 s on B3, and the same fp32 model on every EfficientNet
    tried (b0, b3, lite0, edgetpu_s, identical logits). Conversion checks the result against ONNX Runtime anyway
    and retries in strict mode when that check fails (:func:`edgenet.converters.graph.export_float`).

    An exception inside onnx2tf becomes one :class:`~edgenet.converters.failures.ConverterError` line naming
    ``model_name``; its traceback and onnx2tf's own output go to a log file.
    """
    quiet_tensorflow()
    import onnx2tf
    from edgenet.converters.failures import ConverterError, third_party

    onnx_path = Path(onnx_path).resolve()  # before the chdir below
    log = io.StringIO()
    with offline_workdir() as tmp, contextlib.ExitStack() as stack:
        stack.enter_context(third_party("ONNX → TensorFlow", "onnx2tf", model_name or onnx_path.name, log=log))
        stack.enter_context(contextlib.redirect_stdout(log))
        stack.enter_context(contextlib.redirect_stderr(log))
        if not strict:
            stack.enter_context(shapes_only_inference())
        try:
            model = onnx2tf.convert(
                # a private copy: onnx2tf rewrites its input file in place, and the published model.onnx must
                # stay the file that was checked against PyTorch
                input_onnx_file_path=shutil.copy(onnx_path, tmp / onnx_path.name),
                output_folder_path=str(tmp / "saved_model"),
                disable_model_save=True,
                not_use_onnxsim=True,  # already slimmed by onnxslim at export
                non_verbose=True,
                disable_strict_mode=not strict,
            )
        except SystemExit as e:  # onnx2tf calls sys.exit on unsupported graphs
            tail = log.getvalue().strip().splitlines()[-1:] or [str(e)]
            raise ConverterError(f"{onnx_path}: onnx2tf could not convert the graph ({tail[0][:200]})") from None
    return model


def concrete_function(model):
    """The model as a TF concrete function with a fixed NHWC float input named ``input``.

    Wrapping it in a bare ``tf.Module`` (not the Keras model) keeps TFLite's converter off Keras' slow
    SavedModel metadata path.
    """
    import tensorflow as tf

    spec = tf.TensorSpec(model.inputs[0].shape, tf.float32, name="input")
    module = tf.Module()
    module.variables_ = list(model.variables)
    module.serve = tf.function(lambda x: model(x), input_signature=[spec])
    return module.serve.get_concrete_function(), module


def convert_float(concrete_fn, trackable, kind: str) -> bytes:
    """``fp32``, ``fp16`` (float16 weights) or ``dynamic`` (int8 weights, float activations) from the TF graph."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete_fn], trackable)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if kind == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif kind == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind != "fp32":
        raise ValueError(f"convert_float makes fp32, fp16 or dynamic, not {kind!r}")
    return conv.convert()
