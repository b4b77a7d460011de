"""hjepa: hierarchical JEPA world models on video, from data to planning (LeCun 2022)."""

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_encoder", "load_world_model"]


def __getattr__(name: str) -> Any:
    # Loaders are imported on first use, so `import hjepa` (and `hjepa --help`) stays light.
    if name in __all__:
        from hjepa import export

        return getattr(export, name)
    raise AttributeError(f"module 'hjepa' has no attribute {name!r}")
