"""Level-1 JEPA world model (seed paper sec. 4.4, fig. 2): encoder plus predictor, and its config builder."""

import copy
from typing import Any

from torch import Tensor, nn

from hjepa.fields import check_field_types
from hjepa.models.encoder import FrameEncoder
from hjepa.models.latent import Latent, build_latent, over_time
from hjepa.models.predictor import Predictor, build_predictor


class WorldModel(nn.Module):
    """Enc: frames -> states, Pred: (states, actions, z) -> future states, in representation space.

    `latent` (sec. 4.5) is the module that infers, regularizes and samples the predictor's z; None
    when the predictor takes no latent. `config` is a copy of the plain data the model was built from
    (`build_world_model`, `build_level2_world_model`), so the model can be exported without it; None when
    built by hand.
    """

    def __init__(
        self,
        encoder: FrameEncoder,
        predictor: Predictor,
        latent: Latent | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if encoder.embed_dim != predictor.state_dim:
            raise ValueError(
                f"encoder.embed_dim={encoder.embed_dim} differs from the predictor's state_dim={predictor.state_dim}"
            )
        if latent is not None and latent.dim != predictor.latent_dim:
            raise ValueError(f"model.latent.dim={latent.dim} differs from predictor.latent_dim={predictor.latent_dim}")
        self.encoder = encoder
        self.predictor = predictor
        self.latent = latent
        self.config = copy.deepcopy(config)  # later edits of the caller's dict do not change what is exported

    def encode(self, frames: Tensor) -> Tensor:
        """(B, T, C, H, W) -> (B, T, D)."""
        return self.encoder(frames)

    @property
    def history(self) -> int:
        """States a planning rollout starts from (`Predictor.history`): 2 when the predictor looks back one."""
        return self.predictor.history

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        """Rollout in state space, see `Predictor.unroll`: s0 (B, D) or (B, T0, D) -> (B, H, D)."""
        return self.predictor.unroll(s0, actions, z)

    def energy(self, context: Tensor, target: Tensor, actions: Tensor, z: Tensor) -> Tensor:
        """E(x, y, z) = D(s_y, Pred(s_x, z)) (sec. 4.5): mean squared error of the rollout from the context.

        context (B, T0, D), target (B, H, D), actions (B, T0 - 1 + H, A), candidate clip latents
        z (N, B, Dz) -> energies (N, B); the N candidates are rolled out in one batched call.
        """
        n, b, _ = z.shape
        steps = actions.shape[1]
        preds = self.unroll(context.repeat(n, 1, 1), actions.repeat(n, 1, 1), over_time(z.reshape(n * b, -1), steps))
        return (preds - target.repeat(n, 1, 1)).square().mean(dim=(1, 2)).view(n, b)


def with_state_shape(predictor_cfg: dict[str, Any], state_shape: tuple[int, int, int] | None) -> dict[str, Any]:
    """Predictor fields with the `state_shape` (C, h, w) of the encoder's spatial states for the conv predictor,
    which views each state as its map (None: the encoder's states are vectors, which it refuses)."""
    if predictor_cfg.get("kind") != "conv":
        return predictor_cfg
    if "state_shape" in predictor_cfg:
        raise ValueError("predictor.state_shape: leave it out, it is set from the encoder's spatial_channels")
    return {**predictor_cfg, "state_shape": state_shape}


def build_world_model(cfg: dict[str, Any]) -> WorldModel:
    """WorldModel from plain data {"encoder": {FrameEncoder fields}, "predictor": {"kind": ..., fields},
    "latent": {"kind": ..., fields}} (latent optional).

    The predictor's state_dim is the encoder's embed_dim and its latent_dim the latent's dim. Unknown
    fields -> ValueError naming the field. The model keeps `cfg` as its `config`.
    """
    for section in cfg:
        if section not in ("encoder", "predictor", "latent"):
            raise ValueError(
                f"{section}: unknown world-model config section; expected 'encoder', 'predictor', 'latent'"
            )
    predictor_cfg = dict(cfg.get("predictor") or {})
    if "state_dim" in predictor_cfg:
        raise ValueError("predictor.state_dim: leave it out, it is set from encoder.embed_dim")
    encoder_cfg = dict(cfg.get("encoder") or {})
    check_field_types(encoder_cfg, FrameEncoder, "encoder.")
    encoder = FrameEncoder(**encoder_cfg)
    predictor_cfg = with_state_shape(predictor_cfg, encoder.state_shape)
    latent = build_latent(cfg.get("latent"), encoder.embed_dim)
    if latent is not None:
        if "latent_dim" in predictor_cfg:
            raise ValueError("predictor.latent_dim: leave it out, it is set from model.latent.dim")
        predictor_cfg["latent_dim"] = latent.dim
    return WorldModel(encoder, build_predictor(state_dim=encoder.embed_dim, **predictor_cfg), latent, cfg)
