"""JEPA pretraining with a latent (paper sec. 4.5): each clip is predicted with its inferred ž, the latent's
terms are logged in training and validation, and the latent travels with the exported model."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, StackDataset

from hjepa.eval.fork_probe import fork_clips
from hjepa.models.latent import over_time
from hjepa.train.module import JEPAModule

ENCODER = {"name": "convnet_tiny", "embed_dim": 8, "img_size": 16, "width": 8}
PREDICTOR = {"kind": "gru", "hidden_dim": 16}


def module(latent: dict) -> JEPAModule:
    torch.manual_seed(0)
    return JEPAModule(encoder=ENCODER, predictor=PREDICTOR, latent=latent, action_dim=0, expander=[16], warmup_steps=1)


def test_training_predicts_with_the_code_of_least_energy():
    model = module({"kind": "discrete", "num_codes": 3, "dim": 4})
    clips = fork_clips(6, 4, 3, 16, seed=0)
    terms = model.losses({"frames": clips["frames"], "actions": clips["actions"]})
    for key in ("latent_energy", "latent_regularizer", "latent_relaxation", "latent_amortized"):
        assert key in terms and torch.isfinite(terms[key])
    with torch.no_grad():  # slow: every code for every clip, one rollout each
        states = model.world_model.encode(clips["frames"])
        best = []
        for b in range(6):
            energies = [
                (
                    model.world_model.unroll(
                        states[b : b + 1, :1], clips["actions"][b : b + 1], over_time(code[None], 3)
                    )
                    - states[b : b + 1, 1:]
                )
                .square()
                .mean()
                for code in model.world_model.latent.codebook
            ]
            best.append(min(energies))
    assert terms["latent_energy"].item() == pytest.approx(torch.stack(best).mean().item(), rel=1e-4)
    assert terms["pred_loss_rollout"].item() == pytest.approx(terms["latent_energy"].item(), rel=1e-4)
    terms["loss"].backward()
    assert model.world_model.latent.codebook.grad.abs().sum() > 0  # the codes learn through the chosen ž


def test_continuous_latent_trains_and_validates_in_lightning(tmp_path):
    from hjepa.export import export_world_model, load_world_model

    model = module({"kind": "sparse", "dim": 4, "l1": 0.1, "steps": 3})
    clips = fork_clips(16, 4, 3, 16, seed=0)
    loader = DataLoader(StackDataset(frames=clips["frames"], actions=clips["actions"]), batch_size=8)
    trainer = L.Trainer(
        max_steps=4,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
    )
    trainer.fit(model, loader, loader)  # validation runs in inference mode: gradient inference must still work
    metrics = trainer.callback_metrics
    assert {"val/latent_energy", "val/latent_regularizer", "val/latent_amortized"} <= set(metrics)
    # ž of the validated batch by hand, outside inference mode: 3 Adam steps of size 0.1 on E + 0.1 |z|_1 from z = 0
    wm = model.world_model
    with torch.no_grad():
        states = wm.encode(clips["frames"][:8])

    def energy(z: torch.Tensor) -> torch.Tensor:
        return wm.energy(states[:, :1], states[:, 1:], clips["actions"][:8], z[None])[0]

    z = torch.zeros(8, 4, requires_grad=True)
    adam = torch.optim.Adam([z], lr=0.1)
    for _ in range(3):
        (z.grad,) = torch.autograd.grad((energy(z) + 0.1 * z.abs().sum(-1)).sum(), z)
        adam.step()
    with torch.no_grad():
        by_hand, at_zero = energy(z).mean().item(), energy(torch.zeros(8, 4)).mean().item()
    assert metrics["val/latent_energy"].item() == pytest.approx(by_hand, rel=1e-4)
    assert metrics["val/latent_regularizer"].item() == pytest.approx(0.1 * z.abs().sum(-1).mean().item(), rel=1e-4)
    assert by_hand < at_zero  # ž predicts the clips better than z = 0 (init seeds 0-4: by 1-3%)
    export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    loaded = load_world_model(tmp_path / "export")
    assert loaded.latent.kind == "sparse" and loaded.latent.l1 == 0.1
    for name, value in model.world_model.latent.state_dict().items():
        torch.testing.assert_close(loaded.latent.state_dict()[name], value)


def test_unknown_latent_kind_names_the_field():
    with pytest.raises(ValueError, match=r"model\.latent\.kind"):
        module({"kind": "mixture"})
