"""edgenet: EfficientNet from training to phones, Coral Edge TPUs and desktop GPUs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edgenet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

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
