"""A world model that knows the truth: it reads the agent's position off rooms-world images exactly and moves
it by the actions, ignoring walls. Tests of the agent loop use it to check the loop, not a trained model."""

import numpy as np
import torch
from torch import Tensor, nn

from hjepa.envs.collision import move
from hjepa.envs.rooms import AGENT


class PositionEncoder(nn.Module):
    """Frames (B, T, 3, H, W) in [0, 1] -> agent centre (B, T, 2) in world units (centroid of agent-coloured pixels)."""

    embed_dim = 2

    def __init__(self, img_size: int = 64) -> None:
        super().__init__()
        self.img_size = img_size
        self.register_buffer("colour", torch.tensor(AGENT / 255.0, dtype=torch.float32))

    def forward(self, frames: Tensor) -> Tensor:
        mask = ((frames - self.colour[:, None, None]).abs().amax(dim=-3) < 0.1).float()  # (B, T, H, W)
        centres = (torch.arange(self.img_size, dtype=torch.float32) + 0.5) / self.img_size
        weight = mask.sum((-1, -2)).clamp_min(1)
        x = (mask.sum(-2) * centres).sum(-1) / weight
        y = (mask.sum(-1) * centres).sum(-1) / weight
        return torch.stack([x, y], dim=-1)


class OracleWorldModel(nn.Module):
    """encode: exact positions; unroll: s0 + cumulative displacements (no walls); no latent; Markov."""

    latent, history = None, 1

    def __init__(self) -> None:
        super().__init__()
        self.encoder = PositionEncoder()

    def encode(self, frames: Tensor) -> Tensor:
        return self.encoder(frames)

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        return s0[:, None] + actions.cumsum(1)


class WallOracleWorldModel(OracleWorldModel):
    """encode: exact positions; unroll: the world's own collision physics, so rollouts stop at walls and pass
    through doors: a perfect learned model of a rooms world."""

    def __init__(self, world) -> None:
        super().__init__()
        self.world = world  # its current walls: a random-door world moves them at each reset

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        position, steps = s0.double().numpy(), []
        for action in actions.double().unbind(1):
            position = move(position, action.numpy(), self.world._boxes)
            steps.append(position)
        return torch.from_numpy(np.stack(steps, axis=1)).to(s0.dtype)


class DriftingOracleWorldModel(OracleWorldModel):
    """Exact perception, but a predictor that foresees a walk of `drift` (2,) per step even under action 0, like one
    trained only on agents that move; counts its `unroll` calls."""

    def __init__(self, drift: tuple[float, float] = (0.012, -0.008)) -> None:
        super().__init__()
        self.register_buffer("drift", torch.tensor(drift))
        self.calls = 0

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        self.calls += 1
        steps = torch.arange(1, actions.shape[1] + 1, dtype=s0.dtype)
        return super().unroll(s0, actions) + steps[:, None] * self.drift


class FloorEncoder(PositionEncoder):
    """Agent centre and a third coordinate, 0 for every image: (B, T, 3, H, W) -> (B, T, 3)."""

    embed_dim = 3

    def forward(self, frames: Tensor) -> Tensor:
        position = super().forward(frames)
        return torch.cat([position, torch.zeros_like(position[..., :1])], dim=-1)


class FloorOracleWorldModel(OracleWorldModel):
    """Exact perception and motion, but every predicted state is `floor` off in the third coordinate: a predictor
    that cannot foresee any state closer than `floor`, while the encoder sees exactly."""

    def __init__(self, floor: float = 0.02) -> None:
        super().__init__()
        self.encoder, self.floor = FloorEncoder(), floor

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        position = s0[:, None, :2] + actions.cumsum(1)
        return torch.cat([position, torch.full_like(position[..., :1], self.floor)], dim=-1)


class ActionBlindWorldModel(OracleWorldModel):
    """Negative control: exact perception, but a predictor that ignores the actions (the state never changes)."""

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        return s0[:, None].expand(-1, actions.shape[1], -1)


def explored_episodes(world, episodes: int, frames: int, seed: int = 0) -> np.ndarray:
    """Ground-truth positions (E, T, 2) of the world's own exploration, like recorded data."""
    rng = np.random.default_rng(seed)
    states = [world.reset(episodes, rng)]
    for _ in range(frames - 1):
        world.step(world.exploration_actions(rng))
        states.append(world.state.copy())
    return np.stack(states, axis=1)


class LastOfWindow(nn.Module):
    """Level-2 encoder of the oracle: the abstract state of a window of W positions is its last position."""

    embed_dim = 2

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = window

    def abstract(self, states: Tensor) -> Tensor:
        """(B, T, 2) -> (B, T // W, 2)."""
        n = states.shape[1] // self.window
        return states[:, self.window - 1 : n * self.window : self.window]


class OracleLevel2(nn.Module):
    """A level 2 that knows the truth: windows of W level-1 states abstracted to where they end, moved by the
    window's summed displacement (no walls)."""

    def __init__(self, window: int = 8) -> None:
        super().__init__()
        self.encoder = LastOfWindow(window)

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        return s0[:, None] + actions.cumsum(1)


class WallOracleLevel2(OracleLevel2):
    """A level 2 that knows the walls: a window's summed action is walked in W equal level-1 steps through the
    world's collision physics, so level-2 rollouts stop at walls and pass through doors."""

    def __init__(self, world, window: int = 8) -> None:
        super().__init__(window)
        self.level1 = WallOracleWorldModel(world)

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        steps = (actions / self.encoder.window).repeat_interleave(self.encoder.window, dim=1)
        return self.level1.unroll(s0, steps)[:, self.encoder.window - 1 :: self.encoder.window]
