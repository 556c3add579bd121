"""The environment recorded with every result: a latency means nothing without the machine and versions behind it.

The machine-level facts (CPU model, cores, OS, Python) come from :func:`remote_runner.basic_env`, the same code a
board runs; this adds the versions of the runtimes installed here without importing them."""

from __future__ import annotations

from importlib import metadata

from edgenet.device_bench.remote_runner import basic_env

PACKAGES = (
    "edgenet",
    "numpy",
    "ai-edge-litert",
    "tflite-runtime",
    "tensorflow",
    "onnxruntime",
    "onnxruntime-gpu",
    "torch",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def local_env() -> dict:
    return basic_env() | {"packages": package_versions()}


def machine_label(env: dict, device: str = "cpu") -> str:
    """What ran it, as the report groups by: the GPU for CUDA runs, else the CPU model or board."""
    if device == "cuda" and env.get("gpu"):
        return str(env["gpu"])
    return str(env.get("cpu_model") or env.get("hostname") or "unknown")
