"""Training criteria for the JEPA world model (seed paper sec. 4.5)."""

from hjepa.losses.vicreg import VICReg, VICRegOutput

__all__ = ["VICReg", "VICRegOutput"]
