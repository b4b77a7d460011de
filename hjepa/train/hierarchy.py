"""Training of the second level of H-JEPA (seed paper sec. 4.6): its objective and the level-wise wiring.

`Level2JEPA` holds the level-2 world model and its own VICReg objective; `JEPAModule` feeds it the
level-1 states of each clip. Level-wise training (`levels: [2]`) loads level 1 from
`level1_checkpoint` and freezes it; joint training (`levels: [1, 2]`) adds the two levels' losses,
with `stop_gradient` deciding whether level 2's loss reaches the level-1 encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor, nn

from hjepa.export import read_world_model
from hjepa.losses.diagnostics import embedding_std
from hjepa.models import Expander, FrameEncoder
from hjepa.models.level2 import build_level2_world_model, window_actions
from hjepa.train.objective import build_vicreg, jepa_losses

LEVEL_CHOICES = ([1], [2], [1, 2])


def check_levels(levels: list[int], level2: dict[str, Any] | None, level1_checkpoint: str | Path | None) -> list[int]:
    """The trained levels, sorted; ValueError naming the field when the combination cannot run."""
    levels = sorted(levels)
    if levels not in LEVEL_CHOICES:
        raise ValueError(f"model.levels: expected one of {list(LEVEL_CHOICES)}, got {levels}")
    if 2 in levels and not level2:
        raise ValueError("model.level2: levels include 2 but the level2 section is missing (window, horizon, ...)")
    if 2 not in levels and level2:
        raise ValueError("model.level2: given but model.levels is [1]; add 2 to model.levels or drop the section")
    if levels == [2] and level1_checkpoint is None:
        raise ValueError(
            "model.level1_checkpoint: levels [2] trains level 2 on a frozen level 1, which must be "
            "loaded from a level-1 checkpoint (.ckpt) or export folder; set model.level1_checkpoint"
        )
    return levels


def read_level1(
    path: str | Path,
    encoder: dict[str, Any] | None,
    predictor: dict[str, Any] | None,
    latent: dict[str, Any] | None,
    action_dim: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, dict[str, Tensor]]:
    """(encoder, predictor and latent fields, weights) of the level-1 world model at `path` (.ckpt or export)."""
    for name, given in (("encoder", encoder), ("predictor", predictor), ("latent", latent)):
        if given is not None:
            raise ValueError(
                f"model.{name}: leave it out when model.level1_checkpoint is set; the level-1 "
                f"architecture comes from {path}"
            )
    config, weights = read_world_model(path)
    encoder, predictor = dict(config["encoder"]), dict(config["predictor"])
    width = predictor.pop("action_dim", 0)
    if width != action_dim * encoder.get("tubelet", 1):
        raise ValueError(
            f"model.action_dim={action_dim} does not match {path}, whose predictor takes actions of width {width}"
        )
    return encoder, predictor, config.get("latent"), weights


def freeze(module: nn.Module) -> None:
    """No gradients and no optimizer state for `module`: its weights stay bit-identical in training."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)


class Level2JEPA(nn.Module):
    """Level-2 world model (`Level2WorldModel`, on the shared level-1 encoder) and its VICReg objective.

    Args:
        level1: the level-1 frame encoder whose states level 2 reads.
        action_dim: width of the clip actions; level-2 actions are their sums over a window.
        window: level-1 states per level-2 state (W); horizon: windows predicted ahead (k).
        pool, embed_dim, hidden_dim, spatial_channels: `Level2Encoder` fields (spatial_channels: level-2 states
            that stay maps on spatial level-1 states); predictor: predictor fields (`kind`, ...).
        latent: level 2's latent z (sec. 4.5), the schema of `model.latent`; inferred per clip of windows.
        expander, vicreg, rollout_weight: as for level 1, applied to level-2 states.
        weight: factor of the level-2 loss in the joint (levels [1, 2]) total.
    """

    def __init__(
        self,
        level1: FrameEncoder,
        action_dim: int,
        window: int,
        horizon: int = 1,
        pool: str = "mean",
        embed_dim: int = 32,
        hidden_dim: int = 128,
        spatial_channels: int = 0,
        predictor: dict[str, Any] | None = None,
        latent: dict[str, Any] | None = None,
        expander: list[int] | None = None,
        vicreg: dict[str, float] | None = None,
        rollout_weight: float = 0.5,
        weight: float = 1.0,
    ) -> None:
        super().__init__()
        if horizon < 1:
            raise ValueError(f"model.level2.horizon: expected >= 1 windows ahead, got {horizon}")
        if not 0 <= rollout_weight <= 1:
            raise ValueError(f"model.level2.rollout_weight: expected in [0, 1], got {rollout_weight}")
        self.horizon, self.rollout_weight, self.weight = horizon, rollout_weight, weight
        predictor = {**(predictor or {"kind": "gru"}), "action_dim": action_dim}
        self.config = {
            "window": window,
            "pool": pool,
            "embed_dim": embed_dim,
            "hidden_dim": hidden_dim,
            "predictor": predictor,
        }
        if spatial_channels:
            self.config["spatial_channels"] = spatial_channels
        if latent is not None:
            self.config["latent"] = dict(latent)
        try:
            self.world_model = build_level2_world_model(level1, self.config)
        except ValueError as error:
            raise ValueError(f"model.{error}") from error
        widths = [512, 512] if expander is None else list(expander)
        self.expander = Expander(embed_dim, widths) if widths else nn.Identity()
        self.vicreg = build_vicreg(vicreg, self.world_model.encoder.state_shape, bool(widths), "model.level2.")

    def check_clip(self, num_states: int, num_frames: int) -> None:
        """ValueError naming the field when a clip of `num_frames` frames (`num_states` level-1 states)
        cannot hold one window, or k windows ahead of a first one."""
        window = self.config["window"]
        if window > num_states:
            raise ValueError(
                f"model.level2.window={window} is longer than the clip: data.num_frames={num_frames} "
                f"frames give {num_states} level-1 states"
            )
        if (self.horizon + 1) * window > num_states:
            raise ValueError(
                f"model.level2.horizon={self.horizon}: predicting k windows ahead needs (k + 1) * window = "
                f"{(self.horizon + 1) * window} level-1 states, but data.num_frames={num_frames} frames "
                f"give {num_states} (k * W beyond the clip)"
            )

    def losses(self, states: Tensor, actions: Tensor, num_frames: int) -> dict[str, Tensor]:
        """Level-2 loss terms (`level2/<name>`) of level-1 states (B, T1, D1) and per-frame actions (B, T-1, A).

        Teacher-forced one-step prediction over all windows, and k-window rollouts from every window
        that has k successors in the clip, batched as one `unroll`. With a level-2 latent, ž is inferred
        per clip of windows as at level 1 and conditions every prediction of that clip.
        """
        self.check_clip(states.shape[1], num_frames)
        model = self.world_model
        s2 = model.encoder.abstract(states)  # (B, n, D2)
        a2 = window_actions(actions, model.encoder.tubelet)  # (B, n-1, A)
        terms = jepa_losses(model, self.expander, self.vicreg, self.rollout_weight, s2, a2, self.horizon)
        terms["std_min"] = embedding_std(s2.detach().flatten(0, 1))[0]
        return {f"level2/{name}": value for name, value in terms.items()}
