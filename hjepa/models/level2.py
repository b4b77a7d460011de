"""Second level of the hierarchy, H-JEPA (seed paper sec. 4.6, fig. 15): abstract states over windows of time.

Level 2 reads level-1 states `(B, T1, D1)` in windows of W states, pools each window in time,
encodes it into a more abstract state `(B, T1 // W, D2)` and predicts k windows ahead with the
same predictor classes as level 1. Its actions are the level-1 actions summed over a window (the
net commanded displacement): a low-dimensional abstract action that says where to go, not how
(the level-2 actor of sec. 4.7 proposes such subgoal directions for level 1 to realise), is
independent of W and of the timing inside the window, and is computed, so it needs no training
signal of its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from hjepa.models.encoder import FrameEncoder, spatial_state_shape
from hjepa.models.latent import build_latent
from hjepa.models.predictor import build_predictor
from hjepa.models.tubelet import tubelet_actions
from hjepa.models.world_model import WorldModel, with_state_shape

POOLS = ("mean", "attention", "conv")


def window_actions(actions: Tensor, frames_per_window: int) -> Tensor:
    """Per-frame actions (B, T-1, A) -> level-2 actions (B, T // f - 1, A), summed over each transition.

    Window i covers frames [i*f, (i+1)*f); the transition from window i to i+1 sums the f actions that
    lead from the last frame of window i to the last frame of window i+1 (the tubelet rule).
    """
    a = actions.shape[-1]
    return tubelet_actions(actions, frames_per_window).unflatten(-1, (frames_per_window, a)).sum(-2)


class TemporalPool(nn.Module):
    """Pools windows of W consecutive states: (B, T, D) -> (B, T // W, D); trailing states are dropped.

    `mean`: the window's average; `attention`: a learned query attends over the window's states
    (softmax weights per window); `conv`: a strided 1-D convolution of kernel W (a learned linear map
    of the whole window, so it keeps the order of the states: motion). With `cells` > 1 the states are
    maps of D / cells channels per cell, flattened channel-major, and each cell's history is pooled by the same
    weights (a spatial state stays a map).
    """

    def __init__(self, kind: str, dim: int, window: int, cells: int = 1) -> None:
        super().__init__()
        self.cells = cells
        dim //= cells
        if kind not in POOLS:
            raise ValueError(f"level2.pool: unknown kind {kind!r}; choose one of {list(POOLS)}")
        if window < 1:
            raise ValueError(f"level2.window: expected >= 1 level-1 states per window, got {window}")
        self.kind, self.window = kind, window
        if kind == "attention":
            self.query = nn.Parameter(torch.zeros(dim))
            self.key = nn.Linear(dim, dim)
        elif kind == "conv":
            self.conv = nn.Conv1d(dim, dim, window, stride=window)

    def forward(self, states: Tensor) -> Tensor:
        if self.cells > 1:  # every cell's (T, C) history as a row of its own: (B, T, C * P) -> (B P, T, C)
            b, t, d = states.shape
            per_cell = states.unflatten(-1, (-1, self.cells)).permute(0, 3, 1, 2).flatten(0, 1)
            pooled = self._pool(per_cell)
            return pooled.unflatten(0, (b, self.cells)).permute(0, 2, 3, 1).flatten(2)
        return self._pool(states)

    def _pool(self, states: Tensor) -> Tensor:
        """(B, T, D) -> (B, T // W, D)."""
        b, t, d = states.shape
        n = t // self.window
        if n == 0:
            raise ValueError(f"level2.window={self.window} is longer than the clip's {t} level-1 states")
        if self.kind == "conv":
            return self.conv(states[:, : n * self.window].transpose(1, 2)).transpose(1, 2)
        windows = states[:, : n * self.window].reshape(b, n, self.window, d)
        if self.kind == "mean":
            return windows.mean(2)
        scores = self.key(windows) @ self.query / d**0.5  # (B, n, W)
        return (scores.softmax(-1)[..., None] * windows).sum(2)


class Level2Encoder(nn.Module):
    """Enc2: frames (B, T, C, H, W) -> level-1 states (B, T // t, D1) -> level-2 states (B, T // (t W), D2).

    `level1` is the level-1 frame encoder (shared, not copied); `abstract` is the level-2 part alone.
    `tubelet` = frames per level-2 state, so probes align ground truth with windows as with tubelets.
    """

    def __init__(
        self,
        level1: FrameEncoder,
        window: int,
        pool: str = "mean",
        embed_dim: int = 32,
        hidden_dim: int = 128,
        spatial_channels: int = 0,
    ) -> None:
        super().__init__()
        self.level1 = level1
        self.embed_dim = embed_dim
        self.window = window
        self.state_shape: tuple[int, int, int] | None = None
        if not spatial_channels:
            self.pool = TemporalPool(pool, level1.embed_dim, window)
            self.head = nn.Sequential(
                nn.Linear(level1.embed_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim)
            )
            return
        if level1.state_shape is None:
            raise ValueError(
                "level2.spatial_channels: a spatial level 2 needs spatial level-1 states (encoder.spatial_channels)"
            )
        c1, h, w = level1.state_shape
        self.state_shape = spatial_state_shape(spatial_channels, h, w, embed_dim, "level2.", "level 1's")
        self.pool = TemporalPool(pool, level1.embed_dim, window, cells=h * w)
        # Each cell's pooled window, mixed with its neighbours' (3x3), then projected to the level-2 channels.
        self.head = nn.Sequential(
            nn.Unflatten(-1, (c1, h, w)),
            nn.Conv2d(c1, hidden_dim, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden_dim, spatial_channels, 1),
            nn.Flatten(-3),
        )

    @property
    def tubelet(self) -> int:
        return self.level1.tubelet * self.window

    def abstract(self, states: Tensor) -> Tensor:
        """Level-1 states (B, T1, D1) -> level-2 states (B, T1 // W, D2)."""
        pooled = self.pool(states)
        if self.state_shape is None:
            return self.head(pooled)
        b, n, d = pooled.shape
        return self.head(pooled.reshape(b * n, d)).view(b, n, self.embed_dim)

    def forward(self, frames: Tensor) -> Tensor:
        return self.abstract(self.level1(frames))


class Level2WorldModel(WorldModel):
    """Level-2 JEPA world model, the level-1 `WorldModel` with a `Level2Encoder`: `encode(frames)` gives
    (B, T // (t W), D2), `unroll(s0, actions, z)` rolls level-2 states forward under window actions
    (B, H, A) from `window_actions`, `latent` is level 2's own z (or None). Planners and probes use
    either level through the same interface."""

    encoder: Level2Encoder  # built by `build_level2_world_model`; it has the FrameEncoder interface


LEVEL2_FIELDS = ("window", "pool", "embed_dim", "hidden_dim", "spatial_channels", "predictor", "latent")


def build_level2_world_model(level1: FrameEncoder, cfg: dict[str, Any]) -> Level2WorldModel:
    """Level-2 world model on top of the level-1 encoder `level1` from plain data
    {"window", "pool", "embed_dim", "hidden_dim", "spatial_channels", "predictor": {"kind", "action_dim", ...},
    "latent": {"kind", ...}} (latent optional, the schema of `model.latent`: level 2's own z, sec. 4.5).

    The predictor's state_dim is `embed_dim` and its latent_dim the latent's dim. Unknown fields ->
    ValueError naming `level2.<field>`. The model keeps `cfg` as its `config`.
    """
    for name in cfg:
        if name not in LEVEL2_FIELDS:
            raise ValueError(f"level2.{name}: unknown level-2 model field; known: {list(LEVEL2_FIELDS)}")
    if "window" not in cfg:
        raise ValueError("level2.window: required (level-1 states per level-2 state)")
    predictor_cfg = dict(cfg.get("predictor") or {})
    if "state_dim" in predictor_cfg:
        raise ValueError("level2.predictor.state_dim: leave it out, it is set from level2.embed_dim")
    encoder = Level2Encoder(level1, **{k: v for k, v in cfg.items() if k not in ("predictor", "latent")})
    try:
        predictor_cfg = with_state_shape(predictor_cfg, encoder.state_shape)
    except ValueError as error:
        raise ValueError(f"level2.{error}") from error
    try:
        latent = build_latent(cfg.get("latent"), encoder.embed_dim)
    except ValueError as error:  # its messages name `model.latent.<field>`
        raise ValueError(f"level2.{str(error).removeprefix('model.')}") from error
    if latent is not None:
        if "latent_dim" in predictor_cfg:
            raise ValueError("level2.predictor.latent_dim: leave it out, it is set from level2.latent.dim")
        predictor_cfg["latent_dim"] = latent.dim
    try:
        predictor = build_predictor(state_dim=encoder.embed_dim, **predictor_cfg)
    except ValueError as error:
        raise ValueError(f"level2.{error}") from error
    return Level2WorldModel(encoder, predictor, latent, cfg)
