"""Why planning succeeds or fails: the goal cost that the agent sees, drawn over a rooms world (sec. 3.2).

The agent is rendered at every free position of a grid, each frame is encoded by the frozen world model, and
the distance of its representation to the goal image's is drawn as a heat map with the walls. A cost that falls
toward the goal everywhere, and round walls through doors, is a usable cost-to-go; one whose valleys end at a
wall traps a short-horizon planner there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from hjepa.data.pixels import images_to_frames
from hjepa.envs.rooms import WALL, RoomsWorld
from hjepa.models import WorldModel


@torch.no_grad()
def encode_frames(world_model: WorldModel, frames: np.ndarray, batch: int = 256) -> Tensor:
    """Rendered frames (N, H, W, 3) uint8 -> the world model's states (N, D), `batch` frames per call."""
    pixels = images_to_frames(frames)  # (N, 3, H, W)
    return torch.cat([world_model.encode(chunk[:, None])[:, 0] for chunk in pixels.split(batch)])


@torch.no_grad()
def goal_distance_map(
    world_model: WorldModel, world: RoomsWorld, goal: np.ndarray, cells: int = 32, batch: int = 256
) -> np.ndarray:
    """Representation distance to the goal (cells, cells) at the centre of each grid cell; NaN where the agent
    cannot stand. goal (2,) is a free position."""
    centres = (np.arange(cells) + 0.5) / cells
    xy = np.stack(np.meshgrid(centres, centres), axis=-1).reshape(-1, 2)  # row-major: y rows, x columns
    free = world.is_free(xy)
    frames = world.render_states(np.concatenate([np.asarray(goal, dtype=np.float64)[None], xy[free]]))
    states = encode_frames(world_model, frames, batch)
    distances = np.full(len(xy), np.nan)
    distances[free] = (states[1:] - states[0]).norm(dim=-1).numpy()
    return distances.reshape(cells, cells)


def plot_goal_distance_map(
    world_model: WorldModel, world: RoomsWorld, goal: np.ndarray, path: Path, paths: dict[str, np.ndarray] | None = None
) -> Path:
    """The heat map of `goal_distance_map` with the goal (*) and optional agent paths (name -> (T, 2))."""
    distances = goal_distance_map(world_model, world, goal)
    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(distances, extent=(0, 1, 1, 0), cmap="viridis")
    walls = np.all(world.background == WALL, axis=-1)
    ax.imshow(np.ma.masked_where(~walls, walls), extent=(0, 1, 1, 0), cmap="gray", vmin=0, vmax=1.5, alpha=0.9)
    for i, (name, xy) in enumerate((paths or {}).items()):
        ax.plot(xy[:, 0], xy[:, 1], color=f"C{i + 1}", linewidth=1.2, label=name)
        ax.plot(*xy[0, :2], "o", color=f"C{i + 1}", markersize=4)
    ax.plot(*goal[:2], "*", color="white", markersize=12, markeredgecolor="black")
    if paths:
        ax.legend(fontsize=7, loc="lower right")
    ax.set_title("||s - s_goal|| in the learned representation", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.savefig(path, dpi=100)
    return path
