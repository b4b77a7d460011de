"""hjepa: hierarchical JEPA world models on video, from data to planning (LeCun 2022)."""

__version__ = "0.1.0"
