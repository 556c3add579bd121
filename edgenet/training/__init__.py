"""Training in PyTorch: the paper's recipe from scratch or fine-tuning, resumable, one process or many (torchrun)."""

from edgenet.training.config import TrainConfig, TrainResult
from edgenet.training.loop import train
from edgenet.training.recipes import RECIPES, Recipe, get_recipe

__all__ = ["RECIPES", "Recipe", "TrainConfig", "TrainResult", "get_recipe", "train"]
