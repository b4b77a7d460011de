"""Pretraining: the JEPA LightningModule, its callbacks, LightningCLI and run configs."""

from hjepa.train.module import JEPAModule

__all__ = ["JEPAModule"]
