"""Level-1 JEPA world model (seed paper sec. 4.4, fig. 2): encoder plus predictor, and its config builder."""

from typing import Any

from torch import Tensor, nn

from hjepa.models.encoder import FrameEncoder
from hjepa.models.predictor import Predictor, build_predictor


class WorldModel(nn.Module):
    """Enc: frames -> states, Pred: (states, actions, z) -> future states, in representation space."""

    def __init__(self, encoder: FrameEncoder, predictor: Predictor) -> None:
        super().__init__()
        if encoder.embed_dim != predictor.state_dim:
            raise ValueError(
                f"encoder.embed_dim={encoder.embed_dim} differs from the predictor's state_dim={predictor.state_dim}"
            )
        self.encoder = encoder
        self.predictor = predictor

    def encode(self, frames: Tensor) -> Tensor:
        """(B, T, C, H, W) -> (B, T, D)."""
        return self.encoder(frames)

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        """Rollout in state space, see `Predictor.unroll`: s0 (B, D) or (B, T0, D) -> (B, H, D)."""
        return self.predictor.unroll(s0, actions, z)


def build_world_model(cfg: dict[str, Any]) -> WorldModel:
    """WorldModel from plain data {"encoder": {FrameEncoder fields}, "predictor": {"kind": ..., fields}}.

    The predictor's state_dim is the encoder's embed_dim. Unknown fields -> ValueError naming the field.
    """
    for section in cfg:
        if section not in ("encoder", "predictor"):
            raise ValueError(f"{section}: unknown world-model config section; expected 'encoder', 'predictor'")
    predictor_cfg = dict(cfg.get("predictor") or {})
    if "state_dim" in predictor_cfg:
        raise ValueError("predictor.state_dim: leave it out, it is set from encoder.embed_dim")
    encoder = FrameEncoder(**(cfg.get("encoder") or {}))
    return WorldModel(encoder, build_predictor(state_dim=encoder.embed_dim, **predictor_cfg))
