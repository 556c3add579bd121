"""TensorRT artefacts: the Q/DQ int8 ONNX every machine can build, and fp16/int8 engines where a GPU is.

TensorRT 11 takes int8 only from explicit Q/DQ nodes (its implicit-quantization calibrators are gone), so the int8
path is: ONNX Runtime's maintained static quantizer (``quantize_static``, QDQ format, symmetric per-channel
weights and symmetric activations — TensorRT's int8 has zero point 0) calibrated on edgenet's calibration images →
``model_int8_qdq.onnx``, verified here on ONNX Runtime's CPU int8 kernels → on a GPU, ``model_int8.engine``.

Engines are built for (and on) the GPU that runs them, so without CUDA and the ``tensorrt`` package the engine kinds
fail with one line that says why, and ``--tensorrt`` builds and verifies the Q/DQ ONNX alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from edgenet.converters.kind import BuildContext, Description, Kind, register

from edgenet.artifacts.tensorrt_engine import require_tensorrt
from edgenet.errors import EdgenetError

QDQ_FILE = "model_int8_qdq.onnx"


class _Samples:
    """ONNX Runtime's CalibrationDataReader protocol over edgenet's preprocessed calibration batch."""

    def __init__(self, input_name: str, samples: np.ndarray) -> None:
        self.input_name, self.samples, self.i = input_name, samples, 0

    def get_next(self) -> dict | None:
        if self.i >= len(self.samples):
            return None
        x = np.ascontiguousarray(self.samples[self.i][None], dtype=np.float32)
        self.i += 1
        return {self.input_name: x}

    def rewind(self) -> None:
        self.i = 0


def qdq_onnx(onnx_path: Path, samples: np.ndarray) -> bytes:
    """Bytes of the Q/DQ int8 ONNX of ``onnx_path``, activations calibrated (min/max) on ``samples``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if samples is None or not len(samples):
        raise ValueError("this artefact kind needs calibration samples")
    input_name = onnx.load_model(str(onnx_path), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="edgenet-qdq-") as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / QDQ_FILE
        quant_pre_process(str(onnx_path), str(pre))  # shape inference + folding, as ONNX Runtime's docs ask
        quantize_static(
            str(pre),
            str(out),
            _Samples(input_name, samples),
            quant_format=QuantFormat.QDQ,
            # every op ONNX Runtime can quantize, not only the weighted ones: measured on pretrained Lite0 (150 photos),
            # Conv/Gemm/Add alone put the Q/DQ before ReLU6 and kept 83 % top-1 agreement with float; all ops 97 %
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
        return out.read_bytes()


def qdq_census(model) -> dict[str, int]:
    """Op counts of an ONNX graph (how many QuantizeLinear/DequantizeLinear the quantizer placed)."""
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def describe_onnx(kind: Kind, path: Path, runner) -> Description:
    """An ONNX artefact's op census (how many QuantizeLinear/DequantizeLinear) and its I/O types."""
    import onnx

    io = runner.io()
    return Description(qdq_census(onnx.load_model(str(path))), io.input_dtype, io.output_dtype)


def build_engine(onnx_bytes: bytes, fp16: bool = False, workspace_gb: float = 2.0) -> bytes:
    """A serialized engine for this machine's GPU from an ONNX model (float, or Q/DQ int8).

    TensorRT ≥ 10.12 builds strongly typed networks (the only kind in 11.x): int8 comes from the Q/DQ nodes, and fp16
    needs a float16 ONNX (:func:`fp16_onnx`); older 10.x releases take the fp32 ONNX with the FP16 builder flag."""
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    strong = hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
    weak_fp16 = fp16 and hasattr(trt.BuilderFlag, "FP16") and not strong
    if fp16 and not weak_fp16:
        onnx_bytes = fp16_onnx(onnx_bytes)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strong else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EdgenetError(f"TensorRT {trt.__version__} cannot parse the ONNX model: {errors[:300]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    if weak_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise EdgenetError(f"TensorRT {trt.__version__} failed to build the engine (its log above says why)")
    return bytes(engine)


def fp16_onnx(onnx_bytes: bytes) -> bytes:
    """A float16 copy of a float ONNX model with float32 inputs/outputs (onnxconverter-common), for strong typing."""
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise EdgenetError(
            "a TensorRT 11 fp16 engine is built from a float16 ONNX: pip install onnxconverter-common"
        ) from None
    model = float16.convert_float_to_float16(onnx.load_model_from_string(onnx_bytes), keep_io_types=True)
    return model.SerializeToString()


def _qdq(ctx: BuildContext) -> bytes:
    return qdq_onnx(ctx.graph.onnx_path, ctx.samples)


def _engine(int8: bool):
    def build(ctx: BuildContext) -> bytes:
        require_tensorrt()  # before minutes of quantization
        if not int8:
            return build_engine(ctx.graph.onnx_path.read_bytes(), fp16=True)
        qdq = ctx.graph.workdir / QDQ_FILE  # built first when --tensorrt asked for both
        return build_engine(qdq.read_bytes() if qdq.is_file() else _qdq(ctx))

    return build


register(
    Kind(
        "onnx_int8_qdq",
        QDQ_FILE,
        "int8 ONNX with explicit Q/DQ nodes (ONNX Runtime's static quantizer): what TensorRT builds int8 from",
        _qdq,
        calibrated=True,
        reference="onnx",
        runtime="onnxruntime",
        describe=describe_onnx,
    )
)
register(
    Kind(
        "tensorrt_fp16",
        "model_fp16.engine",
        "TensorRT fp16 engine (built on, and only for, this machine's GPU)",
        _engine(False),
        reference="onnx",
        runtime="tensorrt",
    )
)
register(
    Kind(
        "tensorrt_int8",
        "model_int8.engine",
        "TensorRT int8 engine from the Q/DQ ONNX (built on, and only for, this machine's GPU)",
        _engine(True),
        calibrated=True,
        reference="onnx",
        runtime="tensorrt",
    )
)
