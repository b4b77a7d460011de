"""hjepa: hierarchical JEPA world models on video, from data to planning (LeCun 2022).

After `import hjepa`, `gymnasium.make("hjepa/TwoRooms-v0")` works (see `hjepa.registration`).
"""

from typing import Any

from hjepa.registration import register_when_gymnasium_loads

__version__ = "0.1.0"
__all__ = ["load_encoder", "load_world_model"]


def __getattr__(name: str) -> Any:
    # Loaders are imported on first use, so `import hjepa` (and `hjepa --help`) stays light.
    if name in __all__:
        from hjepa import export

        return getattr(export, name)
    raise AttributeError(f"module 'hjepa' has no attribute {name!r}")


register_when_gymnasium_loads()
