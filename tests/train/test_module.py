"""JEPA pretraining: the prediction loss falls, VICReg prevents collapse, and without it the encoder collapses."""

import lightning as L
import pytest
import torch

from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.losses.diagnostics import embedding_std
from hjepa.train.module import JEPAModule

ENCODER = {"name": "convnet_tiny", "embed_dim": 32, "img_size": 32, "width": 8}
PREDICTOR = {"kind": "gru", "hidden_dim": 32}


def train(data_dir, steps: int, predictor_action_scale: float = 1.0, **model_kwargs) -> tuple[JEPAModule, list[float]]:
    torch.manual_seed(0)
    data = VideoDataModule(str(data_dir), num_frames=6, batch_size=16, num_workers=0, train_batches_per_epoch=steps,
                           val_fraction=0.0, decoder="pyav")
    predictor = {**PREDICTOR, "action_scale": predictor_action_scale}
    model = JEPAModule(encoder=ENCODER, predictor=predictor, expander=[64], warmup_steps=5, lr=3e-3, **model_kwargs)
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            losses.append(float(trainer.callback_metrics["train/pred_error_rollout_rel"]))

    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[Record()])
    trainer.fit(model, data)
    return model, losses


def state_std_min(model: JEPAModule, data_dir) -> float:
    data = VideoDataModule(str(data_dir), num_frames=6, batch_size=48, num_workers=0, resampled=False,
                           val_fraction=0.0, decoder="pyav")
    batch = frames_to_float(next(iter(data.loader(data.dataset("all")))))
    with torch.no_grad():
        states = model.world_model.encode(batch["frames"]).flatten(0, 1)
    return float(embedding_std(states)[0]), float(states.std(0).mean())


def test_pretraining_lowers_relative_prediction_error_and_keeps_states_spread(tiny_rooms):
    model, losses = train(tiny_rooms, steps=60)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, (first, last)
    std_min, _ = state_std_min(model, tiny_rooms)
    assert std_min > 0.2


def test_without_variance_and_covariance_the_states_collapse(tiny_rooms):
    model, _ = train(tiny_rooms, steps=60, vicreg={"var_coeff": 0.0, "cov_coeff": 0.0})
    _, std_mean = state_std_min(model, tiny_rooms)
    regularised, _ = train(tiny_rooms, steps=60)
    _, std_mean_regularised = state_std_min(regularised, tiny_rooms)
    assert std_mean < 0.05 * std_mean_regularised, (std_mean, std_mean_regularised)


def test_action_width_mismatch_names_the_field():
    model = JEPAModule(encoder=ENCODER, predictor=PREDICTOR, action_dim=4)
    batch = {"frames": torch.rand(2, 3, 3, 32, 32), "actions": torch.zeros(2, 2, 2)}
    with pytest.raises(ValueError, match="model.action_dim=4"):
        model.losses(batch)


def test_bad_model_fields_name_the_field():
    with pytest.raises(ValueError, match="encoder.name"):
        JEPAModule(encoder={"name": "resnet_does_not_exist"})
    with pytest.raises(ValueError, match="model.vicreg"):
        JEPAModule(encoder=ENCODER, vicreg={"lambda": 1.0})
    with pytest.raises(ValueError, match="encoder.img_size"):
        JEPAModule(encoder={"name": "vit_tiny_patch16_224", "img_size": 60, "embed_dim": 8})


def test_trained_world_model_beats_random_encoder_and_copy_last(tiny_rooms, tmp_path):
    """The probes of paper sec. 4: the state is linearly readable from the trained encoder, and the
    world model's 8-step rollout predicts it better than assuming no motion."""
    from hjepa.eval.probe import run_linear_probe
    from hjepa.export import export_world_model

    model, _ = train(tiny_rooms, steps=150, predictor_action_scale=20.0)
    export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    scores = run_linear_probe(tmp_path / "export", str(tiny_rooms), tmp_path / "probe", rollout_k=8,
                              num_workers=0, val_fraction=0.25)
    assert scores["probe_r2_trained"] > 0.85 and scores["probe_r2_trained"] > scores["probe_r2_random"] + 0.2
    assert scores["probe_r2_rollout"] > scores["probe_r2_copy_last"] + 0.1, scores


def test_tubelet_model_trains_and_probes_end_to_end(tiny_rooms, tmp_path):
    from hjepa.eval.probe import run_linear_probe
    from hjepa.export import export_world_model

    torch.manual_seed(0)
    data = VideoDataModule(str(tiny_rooms), num_frames=6, batch_size=8, num_workers=0, train_batches_per_epoch=3,
                           val_fraction=0.0, decoder="pyav")
    model = JEPAModule(encoder={**ENCODER, "tubelet": 2}, predictor=PREDICTOR, expander=[32])
    assert model.world_model.predictor.action_dim == 4, "a tubelet transition takes 2 actions of width 2"
    L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(model, data)
    export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    scores = run_linear_probe(tmp_path / "export", str(tiny_rooms), tmp_path / "probe", rollout_k=3, num_workers=0)
    assert scores["rollout_k"] == 3 and all(map(torch.isfinite, map(torch.tensor, (scores["probe_r2_rollout"], scores["probe_r2_trained"]))))
