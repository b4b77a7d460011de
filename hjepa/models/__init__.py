"""Perception and world model of the level-1 JEPA (seed paper sec. 4.4, fig. 2)."""

from hjepa.models.encoder import FrameEncoder
from hjepa.models.expander import Expander
from hjepa.models.predictor import GRUPredictor, Predictor, TransformerPredictor, build_predictor
from hjepa.models.world_model import WorldModel, build_world_model

__all__ = [
    "Expander",
    "FrameEncoder",
    "GRUPredictor",
    "Predictor",
    "TransformerPredictor",
    "WorldModel",
    "build_predictor",
    "build_world_model",
]
