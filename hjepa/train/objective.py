"""The JEPA training objective of one level of the hierarchy (seed paper sec. 4.4, 4.5.1), used by both levels.

The predictor is trained in representation space on two kinds of prediction of the encoder's own states: one
step ahead from the true past (teacher forcing) and `horizon` steps ahead by its own rollout, the `unroll()`
that planners use. VICReg on the output of an expander keeps the states informative (variance and covariance
terms) while the invariance term pulls predictions onto their targets. With a latent z (sec. 4.5), each clip
is predicted with its inferred ž.
"""

from __future__ import annotations

from typing import Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from hjepa.losses import VICReg, VICRegOutput
from hjepa.models.inverse_dynamics import InverseDynamics
from hjepa.models.latent import ClipEnergy, Latent, infer_clip_latent, latent_loss
from hjepa.models.predictor import Predictor


class PredictiveModel(Protocol):
    """What the objective needs of a level's world model: its predictor, its latent and the energy E(x, y, z)."""

    predictor: Predictor
    latent: Latent | None
    energy: ClipEnergy


def build_vicreg(
    fields: dict[str, float] | None, state_shape: tuple[int, int, int] | None, expanded: bool, prefix: str
) -> VICReg:
    """A level's VICReg from its config `fields`; on spatial states (C, h, w) that no expander maps to vectors,
    its statistics are each channel's pooled over the h * w cells. Errors name `<prefix>vicreg.<field>`."""
    fields = dict(fields or {})
    if "positions" in fields:
        raise ValueError(f"{prefix}vicreg.positions: leave it out, it is set from the states' spatial_channels")
    if state_shape is not None and not expanded:
        fields["positions"] = state_shape[1] * state_shape[2]
    try:
        return VICReg(**fields)
    except TypeError as error:
        expected = "expected inv_coeff, var_coeff, cov_coeff, gamma, eps"
        raise ValueError(f"{prefix}vicreg: {error}; {expected}") from error


def rollout_starts(x: Tensor, horizon: int) -> Tensor:
    """The `horizon` steps after every start that has that many after it, as rows of one batched rollout:
    (B, n, C) -> (B * (n - horizon + 1), horizon, C)."""
    return x.unfold(1, horizon, 1).transpose(-1, -2).flatten(0, 1)


def jepa_losses(
    model: PredictiveModel,
    expander: nn.Module,
    vicreg: VICReg,
    rollout_weight: float,
    states: Tensor,
    actions: Tensor,
    horizon: int | None = None,
    inverse_dynamics: InverseDynamics | None = None,
) -> dict[str, Tensor]:
    """Loss terms of one level on its states (B, n, D) under actions (B, n - 1, A); `loss` is what is minimised.

    Teacher-forced one-step prediction of every state, and autoregressive rollouts of `horizon` steps (default:
    the whole clip from its first state) from every state that has `horizon` successors, batched as one `unroll`;
    `rollout_weight` is the rollouts' share of the loss. `pred_error_rollout_rel` is the rollout error relative to
    the targets' variance over batch and time, comparable while the states' scale changes; `pred_error_over_copy`
    relative to the error of copying each rollout's start state (below 1: the model foresees some change; at 1 or
    above it does not, however small the first ratio, e.g. when states differ far more between clips than in time).
    With an `inverse_dynamics` head, its weighted error of the actions read from consecutive states is added.
    """
    n = states.shape[1]
    horizon = horizon or n - 1
    target = states[:, 1:]
    z, latent_terms = infer_clip_latent(model.latent, model.energy, states, actions)  # (B, n-1, Dz) or None
    teacher_forced = model.predictor.predict_teacher_forced(states, actions, z)  # (B, n-1, D)
    s0 = states[:, : n - horizon].flatten(0, 1)
    rollout_target = rollout_starts(target, horizon)  # (B (n - horizon), horizon, D)
    rollout = model.predictor.unroll(
        s0, rollout_starts(actions, horizon), None if z is None else rollout_starts(z, horizon)
    )
    tf: VICRegOutput = vicreg(expander(teacher_forced.flatten(0, 1)), expander(target.flatten(0, 1)))
    ar: VICRegOutput = vicreg(expander(rollout.flatten(0, 1)), expander(rollout_target.flatten(0, 1)))
    error = F.mse_loss(rollout, rollout_target)
    copy_error = F.mse_loss(s0[:, None].expand_as(rollout_target), rollout_target).detach()
    w = rollout_weight
    loss = (1 - w) * tf.loss + w * ar.loss + latent_loss(latent_terms)
    read_actions = {}
    if inverse_dynamics is not None:
        read_actions["inverse_dynamics"] = inverse_dynamics.loss(states, actions)
        loss = loss + inverse_dynamics.weight * read_actions["inverse_dynamics"]
    return {
        "loss": loss,
        "invariance": (1 - w) * tf.invariance + w * ar.invariance,
        "variance": tf.variance,
        "covariance": tf.covariance,
        "pred_loss_one_step": F.mse_loss(teacher_forced, target),
        "pred_loss_rollout": error,
        "pred_error_rollout_rel": error.detach() / target.detach().var((0, 1)).mean().clamp_min(1e-8),
        "pred_error_over_copy": error.detach() / copy_error.clamp_min(1e-8),
        **latent_terms,
        **read_actions,
    }
