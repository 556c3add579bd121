"""TensorRT artefacts: the Q/DQ int8 ONNX every machine can build, and fp16/int8 engines where a GPU is.

TensorRT 11 takes int8 only from explicit Q/DQ nodes (its implicit-quantization calibrators are gone), so the int8
path is: ONNX Runtime's maintained static quantizer (``quantize_static``, QDQ format, symmetric per-channel
weights and symmetric activations — TensorRT's int8 has zero point 0) calibrated on edgenet's calibration images →
``model_int8_qdq.onnx`` in its CPU form (:func:`qdq_onnx`), verified here on ONNX Runtime's CPU int8 kernels *and*
simulated in float, so a kernel fault is told from a model fault → on a GPU, ``model_int8.engine`` from the
TensorRT form of the same ranges.

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


QDQ_FORMS = ("cpu", "tensorrt")


def gemm_weight_overrides(model) -> dict[str, list[dict]]:
    """ONNX Runtime TensorQuantOverrides that give 7-bit weights (its reduced range, ±64) to the ops it runs as a u8s8
    GEMM on x86 — Conv with group 1, Gemm, MatMul — and leave the depthwise convolutions at 8 bits.

    On AVX2 / AVX-512 CPUs without VNNI that GEMM (``vpmaddubsw``) adds the products of two adjacent input channels,
    u8 activations up to 255 times s8 weights, in a saturating int16: 255 · (127 + 127) overflows it, 255 · (64 + 64)
    does not. Per-channel 8-bit weights reach ±127 in every channel by construction, so a per-channel test of which
    pairs stay within 128 keeps almost none (85 of 12,016 pointwise channels of the pretrained Lite0). Depthwise
    convolutions run a kernel that widens to int32 before adding, so they keep 8 bits: the precision that matters
    most in a MobileNet-style network.
    """
    overrides: dict[str, list[dict]] = {}
    inits = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        if len(node.input) < 2 or node.input[1] not in inits:
            continue
        attrs = {a.name: a.i for a in node.attribute if a.type == a.INT}
        if node.op_type == "Conv" and attrs.get("group", 1) == 1:
            axis = 0
        elif node.op_type == "Gemm":
            axis = 0 if attrs.get("transB", 0) else 1
        elif node.op_type == "MatMul":
            axis = 1
        else:
            continue
        overrides[node.input[1]] = [{"axis": axis, "reduce_range": True}]
    return overrides


def qdq_onnx(onnx_path: Path, samples: np.ndarray, form: str = "cpu") -> bytes:
    """Bytes of the Q/DQ int8 ONNX of ``onnx_path``, activations calibrated (min/max) on ``samples``.

    ``form`` picks the weights' grid from the same activation ranges:

    * ``cpu`` — 7-bit weights in the GEMM ops, 8-bit in the depthwise ones (:func:`gemm_weight_overrides`): right on
      every ONNX Runtime kernel path. Measured on the pretrained Lite0 (docs/benchmarks/qdq.md): 8-bit weights
      everywhere fall to cosine 0.69 with float on an AVX2 CPU without VNNI (u8s8 saturation), 7-bit weights
      everywhere cost 0.9 points of top-1, and this form about half of that.
    * ``tensorrt`` — 8-bit weights everywhere: TensorRT accumulates int8 products in int32, so it needs no margin.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if form not in QDQ_FORMS:
        raise ValueError(f"Q/DQ form {form!r}: choose one of {', '.join(QDQ_FORMS)}")
    if samples is None or not len(samples):
        raise ValueError("this artefact kind needs calibration samples")
    input_name = onnx.load_model(str(onnx_path), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="edgenet-qdq-") as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / QDQ_FILE
        quant_pre_process(str(onnx_path), str(pre))  # shape inference + folding, as ONNX Runtime's docs ask
        overrides = gemm_weight_overrides(onnx.load_model(str(pre))) if form == "cpu" else {}
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
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "TensorQuantOverrides": overrides},
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
    return qdq_onnx(ctx.graph.onnx_path, ctx.samples, form="cpu")


def _engine(int8: bool):
    def build(ctx: BuildContext) -> bytes:
        require_tensorrt()  # before minutes of quantization
        if not int8:
            return build_engine(ctx.graph.onnx_path.read_bytes(), fp16=True)
        # the TensorRT form: the same activation ranges as the published (CPU) Q/DQ ONNX, 8-bit weights everywhere
        return build_engine(qdq_onnx(ctx.graph.onnx_path, ctx.samples, form="tensorrt"))

    return build


register(
    Kind(
        "onnx_int8_qdq",
        QDQ_FILE,
        "int8 ONNX with explicit Q/DQ nodes (ONNX Runtime's static quantizer), right on every ONNX Runtime CPU kernel "
        "path: 7-bit weights where x86 without VNNI would saturate",
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
        "TensorRT int8 engine from the Q/DQ ONNX's ranges with 8-bit weights (built on, and only for, this GPU)",
        _engine(True),
        calibrated=True,
        reference="onnx",
        runtime="tensorrt",
    )
)
