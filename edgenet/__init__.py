"""edgenet: EfficientNet from training to phones, Coral Edge TPUs and desktop GPUs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edgenet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# The repository keeps converters/, quantization/ and device_bench/ beside this folder (its fixed layout); they are
# installed inside this package (pyproject's package-dir), as edgenet.converters and so on. Run from a source
# checkout that was not installed, the same names resolve to those sibling folders; nothing is importable under the
# generic top-level names either way.
_HERE = __import__("pathlib").Path(__file__).resolve().parent
if not (_HERE / "converters").is_dir() and (_HERE.parent / "converters" / "__init__.py").is_file():
    __path__.append(str(_HERE.parent))

__all__ = ["__version__", "create_model", "get_variant", "list_models", "load_model"]


def __getattr__(name: str):
    # torch is imported only when a model is asked for, so `edgenet --help` stays instant.
    if name in ("create_model", "get_variant", "list_models"):
        from edgenet import models

        return getattr(models, name)
    if name == "load_model":  # a checkpoint, a weight file or a pretrained peer (edgenet.loading)
        from edgenet.loading import load_model

        return load_model
    raise AttributeError(f"module 'edgenet' has no attribute {name!r}")
