"""Load and describe a serialized TensorRT engine, and say in one line why that is impossible here.

Engines are built for one GPU model and TensorRT version; everything here needs CUDA, the ``tensorrt`` package and
torch's CUDA tensors (used as the I/O buffers, so no pycuda/cuda-python is needed)."""

from __future__ import annotations

from pathlib import Path

from edgenet.errors import EdgenetError

INSTALL_HINT = "pip install 'edgenet[tensorrt]' on a machine with an NVIDIA GPU and driver"


def tensorrt_unavailable() -> str | None:
    """Why TensorRT engines cannot be built or run here, in one line; None when they can."""
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        return f"TensorRT engines are built on and for an NVIDIA GPU, and there is no CUDA GPU here; {INSTALL_HINT}"
    try:
        import tensorrt  # noqa: F401
    except (ImportError, OSError) as e:  # OSError: the wheel is there but libnvinfer/libcuda is not
        return f"TensorRT engines need the tensorrt package ({type(e).__name__}: {str(e)[:120]}); {INSTALL_HINT}"
    return None


def require_tensorrt():
    """The ``tensorrt`` module, or an :class:`EdgenetError` naming what is missing."""
    why = tensorrt_unavailable()
    if why:
        raise EdgenetError(why)
    import tensorrt

    return tensorrt


def _torch_dtype(trt, dt):
    import torch

    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int8: torch.int8, trt.int32: torch.int32}
    if hasattr(trt, "bfloat16"):
        table[trt.bfloat16] = torch.bfloat16
    if dt not in table:
        raise EdgenetError(f"TensorRT I/O type {dt} is not supported by edgenet's runner")
    return table[dt]


def load_engine(path: str | Path):
    """(engine, execution context, inputs, outputs); inputs/outputs are [(name, shape, torch dtype)]."""
    path = Path(path)
    trt = require_tensorrt()
    if not path.is_file():
        raise EdgenetError(f"{path}: file not found")
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise EdgenetError(
            f"{path}: TensorRT {trt.__version__} cannot load this engine (built by another TensorRT version or for "
            "another GPU?); rebuild it here with edgenet convert --tensorrt"
        )
    inputs, outputs = [], []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        io = (name, tuple(engine.get_tensor_shape(name)), _torch_dtype(trt, engine.get_tensor_dtype(name)))
        (inputs if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outputs).append(io)
    return engine, engine.create_execution_context(), inputs, outputs
