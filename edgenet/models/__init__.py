"""The EfficientNet family: B0–B8, any φ, Lite0–4 and EdgeTPU-S/M/L from one builder."""

from edgenet.models.efficientnet import EfficientNet, ModelConfig
from edgenet.models.registry import Variant, create_model, get_variant, list_models, phi_variant

__all__ = ["EfficientNet", "ModelConfig", "Variant", "create_model", "get_variant", "list_models", "phi_variant"]
