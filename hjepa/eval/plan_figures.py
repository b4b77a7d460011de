"""Figures of a planning probe: every actor's paths over the world, the model's goal cost over a rooms world's map,
and one episode as a GIF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import gymnasium
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend needed
from PIL import Image

from hjepa.envs.rooms import RoomsWorld
from hjepa.eval.cost_map import plot_goal_distance_map
from hjepa.eval.episodes import EpisodeResult
from hjepa.models import WorldModel


def plot_trajectories(
    results: dict[str, list[EpisodeResult]],
    background: np.ndarray,
    goals: list[np.ndarray],
    path: Path,
    arena: float = 1.0,
    xy: tuple[int, int] = (0, 1),
) -> Path:
    """One panel per actor: every episode's path (start o, goal *) over the world's empty frame (the first
    episode's, where each episode has its own door); paths and goals are the state coordinates `xy` (by default the
    first two: the agent's position), in a square arena of side `arena` (hjepa's worlds: the unit square)."""
    fig = Figure(figsize=(3.2 * len(results), 3.4), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    x, y = xy
    for ax, (name, episodes) in zip(axes, results.items()):
        ax.imshow(background, extent=(0, arena, arena, 0))
        for i, (episode, goal) in enumerate(zip(episodes, goals)):
            colour = f"C{i % 10}"
            ax.plot(episode.positions[:, x], episode.positions[:, y], color=colour, linewidth=1)
            ax.plot(episode.positions[0, x], episode.positions[0, y], "o", color=colour, markersize=3)
            ax.plot(goal[x], goal[y], "*", color=colour, markersize=7, markeredgecolor="white", markeredgewidth=0.4)
        wins = sum(e.success for e in episodes)
        ax.set_title(f"{name}: {wins}/{len(episodes)}", fontsize=9)
        ax.set_xlim(0, arena)
        ax.set_ylim(arena, 0)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=100)
    return path


def save_gif(frames: list[np.ndarray], path: Path, fps: int = 10, scale: int = 4) -> Path:
    """Frames (H, W, 3) uint8 -> an upscaled looping GIF."""
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def write_figures(
    out: Path,
    env: gymnasium.Env,
    actors: dict[str, list[EpisodeResult]],
    first: str,
    world_model: WorldModel,
    seeds: Sequence[int],
) -> None:
    """`plan_trajectories.png` (the paths of `actors`, one episode per seed), `plan_episode.gif` (the recorded first
    episode of actor `first`) and, in a rooms world, `plan_cost_map.png` (the model's goal cost over the map, with the
    paths of `first` and the random policy in the first episode)."""
    goals = []
    for s in reversed(seeds):  # the first episode last: the frame under the paths and the cost map show its world
        _, info = env.reset(seed=s)
        goals.insert(0, info["goal_state"])
    world = getattr(env.unwrapped, "world", None)
    # the world's empty frame under the paths, or the goal image for environments that are not hjepa worlds
    background = getattr(world, "background", info["goal_image"])
    plot_trajectories(actors, background, goals, out / "plan_trajectories.png")
    save_gif(actors[first][0].frames, out / "plan_episode.gif", fps=env.metadata["render_fps"])
    if isinstance(world, RoomsWorld):  # what the agent's goal cost looks like over the map, first episode
        paths = {name: actors[name][0].positions for name in (first, "random") if name in actors}
        plot_goal_distance_map(world_model, world, goals[0], out / "plan_cost_map.png", paths)
