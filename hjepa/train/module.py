"""Level-1 JEPA pretraining as a LightningModule: it wires the world model, VICReg and the optimizer.

Energy and training follow the paper (sec. 4.4, 4.5.1): the predictor rolls the encoder's state
forward under the recorded actions, and its error against the encoding of the real next frames is
minimised in representation space. Collapse is prevented non-contrastively: VICReg's variance and
covariance terms on the output of an expander keep the representations informative.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from hjepa.export import CKPT_CONFIGS
from hjepa.losses.diagnostics import effective_rank, embedding_std
from hjepa.models import Expander, build_world_model
from hjepa.models.inverse_dynamics import InverseDynamics
from hjepa.models.tubelet import tubelet_actions
from hjepa.train.hierarchy import Level2JEPA, check_levels, freeze, read_level1
from hjepa.train.objective import build_vicreg, jepa_losses
from hjepa.train.schedule import warmup_cosine_scheduler


class JEPAModule(L.LightningModule):
    """Trains `WorldModel` (encoder + predictor) on clips `(B, T, C, H, W)` with actions `(B, T-1, A)`.

    Args:
        encoder: `FrameEncoder` fields (`name`: timm or local backbone, `embed_dim`, `img_size`, ...).
        predictor: predictor fields (`kind`: gru | transformer | conv (spatial states), `hidden_dim`, ...).
        latent: the predictor's latent z (sec. 4.5), `{kind: none | discrete | low_dim | sparse | noisy, ...}`
            (see `hjepa.models.latent`); each clip is predicted with its inferred ž = argmin_z E + R(z),
            and the amortized encoder q is trained to predict ž.
        action_dim: width of the clip actions (world action size x data.frame_stride); with
            `encoder.tubelet` t > 1 the predictor steps from tubelet to tubelet on t actions at once.
        expander: widths of the VICReg expander MLP; `[]` applies VICReg to the states themselves.
        vicreg: `VICReg` coefficients (`inv_coeff`, `var_coeff`, `cov_coeff`, `gamma`, `eps`); on spatial states
            without an expander its statistics are each channel's, pooled over the map's cells.
        rollout_weight: share of the loss from autoregressive rollouts (the rest is teacher-forced
            one-step prediction); rollouts train what planners use, `unroll()` over many steps.
        inverse_dynamics: weight of an inverse-dynamics term at level 1 (actions read from consecutive states,
            a training-only head, convolutional on spatial states); 0 leaves it out.
        lr, weight_decay, warmup_steps, min_lr_ratio: AdamW with linear warmup then cosine decay.
        levels: trained levels of the hierarchy (sec. 4.6): `[1]`, `[2]` (level 1 frozen, loaded from
            `level1_checkpoint`) or `[1, 2]` (joint); level-2 terms are logged as `level2/<name>`.
        level2: `Level2JEPA` fields (`window`, `horizon`, `pool`, `embed_dim`, `predictor`, `latent`, ...).
        level1_checkpoint: level-1 `.ckpt` or export folder; its config replaces `encoder`/`predictor`/`latent`.
        stop_gradient: in joint training, keep level 2's loss from reaching the level-1 encoder.
    """

    def __init__(
        self,
        encoder: dict[str, Any] | None = None,
        predictor: dict[str, Any] | None = None,
        latent: dict[str, Any] | None = None,
        action_dim: int = 2,
        expander: list[int] | None = None,
        vicreg: dict[str, float] | None = None,
        rollout_weight: float = 0.5,
        inverse_dynamics: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        warmup_steps: int = 50,
        min_lr_ratio: float = 0.01,
        levels: list[int] | None = None,
        level2: dict[str, Any] | None = None,
        level1_checkpoint: str | None = None,
        stop_gradient: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if not 0 <= rollout_weight <= 1:
            raise ValueError(f"model.rollout_weight: expected in [0, 1], got {rollout_weight}")
        self.levels = check_levels(levels or [1], level2, level1_checkpoint)
        level1_weights = None
        if level1_checkpoint is not None:
            encoder, predictor, latent, level1_weights = read_level1(
                level1_checkpoint, encoder, predictor, latent, action_dim
            )
        self.world_model_config = {
            "encoder": dict(encoder or {"name": "convnet_tiny", "embed_dim": 128}),
            "predictor": {
                **(predictor or {"kind": "gru"}),
                "action_dim": action_dim * (encoder or {}).get("tubelet", 1),
            },
        }
        if latent is not None:
            self.world_model_config["latent"] = dict(latent)
        self.world_model = build_world_model(self.world_model_config)
        if level1_weights is not None:
            self.world_model.load_state_dict(level1_weights)
        dim = self.world_model.encoder.embed_dim
        widths = [512, 512] if expander is None else list(expander)
        self.expander = Expander(dim, widths) if widths else torch.nn.Identity()
        self.inverse_dynamics = (
            InverseDynamics(
                dim,
                self.world_model_config["predictor"]["action_dim"],
                inverse_dynamics,
                state_shape=self.world_model.encoder.state_shape,
            )
            if inverse_dynamics
            else None
        )
        self.vicreg = build_vicreg(vicreg, self.world_model.encoder.state_shape, bool(widths), "model.")
        self.level2 = Level2JEPA(self.world_model.encoder, action_dim, **level2) if 2 in self.levels else None
        if 1 not in self.levels:
            freeze(self.world_model)
            freeze(self.expander)
            if self.inverse_dynamics is not None:
                freeze(self.inverse_dynamics)
        self._val_states: list[Tensor] = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the derived world-model configs under their own key (read by `hjepa.export`): in the
        hyperparameters, LightningCLI would parse them back as init arguments of `--ckpt_path`."""
        configs = {"world_model_config": self.world_model_config}
        if self.level2 is not None:
            configs["level2_config"] = self.level2.config
        checkpoint[CKPT_CONFIGS] = configs

    def train(self, mode: bool = True) -> JEPAModule:
        """Train mode, except for a frozen level 1 (its normalisation statistics must not move)."""
        super().train(mode)
        if 1 not in self.levels:
            self.world_model.eval()
        return self

    # ----- the objective
    def losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """All loss terms of one batch; `loss` is what is minimised."""
        frames, actions = batch["frames"], batch["actions"]
        if actions.shape[-1] != self.hparams.action_dim:
            raise ValueError(
                f"model.action_dim={self.hparams.action_dim} but the data gives actions of width "
                f"{actions.shape[-1]} (world action size x data.frame_stride)"
            )
        if 1 not in self.levels:  # level-wise training of level 2 on the frozen level 1
            with torch.no_grad():
                states = self.world_model.encode(frames)
            level2 = self.level2.losses(states, actions, frames.shape[1])
            return {"loss": level2["level2/loss"], **level2, "states": states}
        frame_actions = actions
        actions = tubelet_actions(actions, self.world_model.encoder.tubelet)
        states = self.world_model.encode(frames)  # (B, T // tubelet, D)
        terms = {
            **jepa_losses(
                self.world_model,
                self.expander,
                self.vicreg,
                self.hparams.rollout_weight,
                states,
                actions,
                inverse_dynamics=self.inverse_dynamics,
            ),
            "states": states.detach(),
        }
        if self.level2 is None:
            return terms
        level2 = self.level2.losses(
            states.detach() if self.hparams.stop_gradient else states, frame_actions, frames.shape[1]
        )
        total = terms["loss"] + self.level2.weight * level2["level2/loss"]
        return {**terms, "level1/loss": terms["loss"], **level2, "loss": total}

    def _log_terms(self, split: str, terms: dict[str, Tensor], batch_size: int) -> None:
        """Log every loss term as `<split>/<name>` (validation values averaged over ranks)."""
        for name, value in terms.items():
            if name != "states":
                self.log(
                    f"{split}/{name}",
                    value,
                    batch_size=batch_size,
                    sync_dist=split == "val",
                    prog_bar=split == "train" and name in ("loss", "pred_loss_rollout"),
                )

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        terms = self.losses(batch)
        self._log_terms("train", terms, batch["frames"].shape[0])
        return terms["loss"]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        terms = self.losses(batch)
        self._log_terms("val", terms, batch["frames"].shape[0])
        self._val_states.append(terms["states"].flatten(0, 1).float().cpu())

    def on_validation_epoch_end(self) -> None:
        """Collapse diagnostics of the encoder's states (sec. 4.5): per-dimension std and effective rank."""
        if not self._val_states:
            return
        states = torch.cat(self._val_states)
        self._val_states.clear()
        std_min, std_mean = embedding_std(states)
        self.log_dict(
            {"diag/std_min": std_min, "diag/std_mean": std_mean, "diag/effective_rank": effective_rank(states)}
        )

    # ----- optimisation
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint whose schedule was saved as chained schedulers (LinearLR, then CosineAnnealingLR) resumes at
        its step under `warmup_cosine`, which keeps only the step."""
        if "lr_schedulers" in checkpoint:
            checkpoint["lr_schedulers"] = [
                state
                if "lr_lambdas" in state
                else {
                    "last_epoch": state["last_epoch"],
                    "lr_lambdas": [None] * len(state["_schedulers"][0]["base_lrs"]),
                }
                for state in checkpoint["lr_schedulers"]
            ]

    def on_train_start(self) -> None:
        """Each step runs at the rate its schedule gives: a resumed run's optimizer state holds the last rate of the
        run that saved it, which a run resumed with another `trainer.max_steps` would otherwise take for one step."""
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            for group, base, rule in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
                group["lr"] = base * rule(scheduler.last_epoch)

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        decay, no_decay = [], []
        for parameter in self.parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim <= 1 else decay).append(parameter)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=hp.lr
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup = min(hp.warmup_steps, max(total - 1, 0))
        scheduler = warmup_cosine_scheduler(optimizer, warmup, total, hp.min_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
