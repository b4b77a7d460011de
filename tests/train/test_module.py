"""JEPA pretraining, over seeds of the model and of the data stream: the prediction loss falls and VICReg keeps the
states spread, without its variance and covariance terms they collapse, the state is readable from the trained
encoder, and the world model's rollout predicts the encoded future better than copy-last."""

import lightning as L
import pytest
import torch
from torch import Tensor

from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.losses.diagnostics import embedding_std
from hjepa.train.module import JEPAModule

pytestmark = pytest.mark.usefixtures("one_thread")

ENCODER = {"name": "convnet_tiny", "embed_dim": 32, "img_size": 32, "width": 8}
PREDICTOR = {"kind": "gru", "hidden_dim": 32}
# The pretraining recipe: TwoRooms moves at most 0.05 per step, so actions are scaled to O(1).
RECIPE = {
    "encoder": ENCODER,
    "predictor": {"kind": "gru", "hidden_dim": 64, "action_scale": 20.0},
    "expander": [64],
    "warmup_steps": 5,
    "lr": 3e-3,
}
STEPS = 100
K = 8  # rollout steps probed; clips of K + 1 frames
# Seeds 0-4 were measured (see each test); 0, 1 and 4 hold the worst margin of every assertion.
SEEDS = [0, 1, 4]


def train(
    data_dir, steps: int, seed: int, num_frames: int = K + 1, batch_size: int = 16, **model_fields
) -> tuple[JEPAModule, list[float]]:
    """RECIPE with `model_fields` trained `steps` steps from `seed` (initialisation and data stream); returns the
    model and its relative rollout error at every step."""
    torch.manual_seed(seed)
    data = VideoDataModule(
        str(data_dir),
        num_frames=num_frames,
        batch_size=batch_size,
        num_workers=0,
        train_batches_per_epoch=steps,
        val_fraction=0.0,
        decoder="pyav",
        seed=seed,
    )
    model = JEPAModule(**{**RECIPE, **model_fields})
    errors = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            errors.append(float(trainer.callback_metrics["train/pred_error_rollout_rel"]))

    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Record()],
    )
    trainer.fit(model, data)
    return model, errors


def encoded_clips(model: JEPAModule, data_dir) -> tuple[Tensor, Tensor]:
    """States (B, K + 1, D) of one clip from each episode, and the clips' actions (B, K, A)."""
    data = VideoDataModule(
        str(data_dir), num_frames=K + 1, batch_size=48, num_workers=0, resampled=False, val_fraction=0.0, decoder="pyav"
    )
    batch = frames_to_float(next(iter(data.loader(data.dataset("all")))))
    with torch.no_grad():
        return model.world_model.encode(batch["frames"]), batch["actions"]


@pytest.fixture(scope="module")
def pretrained(tiny_rooms, seed, one_thread) -> tuple[JEPAModule, list[float]]:
    """The recipe trained from the test's seed, once per seed for the tests of this module."""
    return train(tiny_rooms, STEPS, seed)


@pytest.mark.parametrize("seed", SEEDS, scope="module")
def test_pretraining_lowers_relative_prediction_error_and_keeps_states_spread(pretrained, tiny_rooms):
    model, errors = pretrained
    first, last = sum(errors[:5]) / 5, sum(errors[-5:]) / 5
    assert last < 0.1 * first, (first, last)  # seeds 0-4: at most 0.04
    std_min, _ = embedding_std(encoded_clips(model, tiny_rooms)[0].flatten(0, 1))
    assert std_min > 0.3, std_min  # seeds 0-4: at least 0.5


@pytest.mark.parametrize("seed", SEEDS, scope="module")
def test_without_variance_and_covariance_the_states_collapse(pretrained, tiny_rooms, seed):
    # collapse comes fast: half the steps of the regularised run suffice
    collapsed, _ = train(tiny_rooms, STEPS // 2, seed, vicreg={"var_coeff": 0.0, "cov_coeff": 0.0})
    _, spread = embedding_std(encoded_clips(pretrained[0], tiny_rooms)[0].flatten(0, 1))
    _, collapsed_spread = embedding_std(encoded_clips(collapsed, tiny_rooms)[0].flatten(0, 1))
    assert collapsed_spread < 0.05 * spread, (collapsed_spread, spread)  # seeds 0-4: at most 0.02


@pytest.mark.parametrize("seed", SEEDS, scope="module")
def test_trained_world_model_beats_random_encoder_and_copy_last(pretrained, tiny_rooms, tmp_path):
    """The probes of paper sec. 4: the state is linearly readable from the trained encoder, far better than from a
    random one, and the world model's 8-step rollout lands closer to the encoded future than assuming no motion."""
    from hjepa.eval.probe import run_linear_probe
    from hjepa.export import export_world_model

    model, _ = pretrained
    export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    scores = run_linear_probe(
        tmp_path / "export", str(tiny_rooms), tmp_path / "probe", rollout_k=K, num_workers=0, val_fraction=0.25
    )
    # seeds 0-4: trained at least 0.88, random 0.35
    assert scores["probe_r2_trained"] > 0.8 and scores["probe_r2_trained"] > scores["probe_r2_random"] + 0.4, scores
    assert scores["probe_r2_rollout"] > 0.5, scores  # still readable after K steps; seeds 0-4: at least 0.65
    # The readout of the rollout against copy-last swings with the 12 held-out clips; the distance to the
    # encoded future, over every episode, does not.
    states, actions = encoded_clips(model, tiny_rooms)
    with torch.no_grad():
        rollout = model.world_model.unroll(states[:, 0], actions)
    rollout_error = (rollout[:, -1] - states[:, -1]).square().sum(-1).mean()
    copy_last_error = (states[:, 0] - states[:, -1]).square().sum(-1).mean()
    assert rollout_error < 0.85 * copy_last_error, (rollout_error, copy_last_error)  # seeds 0-4: at most 0.72


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
    with pytest.raises(ValueError, match="model.inverse_dynamics"):
        JEPAModule(encoder=ENCODER, predictor=PREDICTOR, inverse_dynamics=-1.0)


def test_inverse_dynamics_head_reads_the_clip_actions_and_trains_with_the_encoder():
    torch.manual_seed(0)
    model = JEPAModule(encoder=ENCODER, predictor=PREDICTOR, expander=[], inverse_dynamics=2.0)
    plain = JEPAModule(encoder=ENCODER, predictor=PREDICTOR, expander=[])
    plain.load_state_dict(model.state_dict(), strict=False)  # the same world model, no head
    batch = {"frames": torch.rand(4, 3, 3, 32, 32), "actions": torch.randn(4, 2, 2)}
    terms = model.losses(batch)
    expected = plain.losses(batch)["loss"] + 2.0 * model.inverse_dynamics.loss(terms["states"], batch["actions"])
    assert float(terms["loss"]) == pytest.approx(float(expected), rel=1e-5)
    terms["loss"].backward()
    assert model.inverse_dynamics.net[0].weight.grad.abs().sum() > 0
    assert model.world_model.encoder.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_tubelet_model_trains_and_probes_end_to_end(tiny_rooms, tmp_path, seed):
    """A tubelet encoder (2 frames -> 1 state) learns, and the probe reads the state from its tubelets far better
    than from a random twin."""
    from hjepa.eval.probe import run_linear_probe
    from hjepa.export import export_world_model

    model, errors = train(
        tiny_rooms,
        40,
        seed,
        num_frames=6,
        batch_size=8,
        encoder={**ENCODER, "tubelet": 2},
        predictor=PREDICTOR,
        expander=[32],
    )
    assert model.world_model.predictor.action_dim == 4, "a tubelet transition takes 2 actions of width 2"
    first, last = sum(errors[:5]) / 5, sum(errors[-5:]) / 5
    assert last < 0.5 * first, (first, last)  # seeds 0-4: at most 0.13
    export_world_model(model.world_model, model.world_model_config, tmp_path / "export")
    scores = run_linear_probe(tmp_path / "export", str(tiny_rooms), tmp_path / "probe", rollout_k=3, num_workers=0)
    assert scores["rollout_k"] == 3 and scores["probe_train_clips"] + scores["probe_val_clips"] == 48
    # seeds 0-4: trained at least 0.81, random 0.28
    assert scores["probe_r2_trained"] > scores["probe_r2_random"] + 0.3, scores


@pytest.mark.parametrize("seed", SEEDS)
def test_a_spatial_model_trains_with_vicreg_pooled_over_its_map(tiny_rooms, seed):
    """Spatial states (encoder.spatial_channels) with the conv predictor: VICReg's statistics are pooled over the
    8x8 map, the relative rollout error falls, and the 8-step rollout lands closer to the encoded future than
    assuming no motion."""
    spatial = {
        "encoder": {**ENCODER, "stages": 2, "spatial_channels": 4, "embed_dim": 4 * 8 * 8},
        "predictor": {"kind": "conv", "hidden_dim": 16, "action_scale": 20.0},
        "expander": [],
    }
    model, errors = train(tiny_rooms, STEPS, seed=seed, **spatial)
    assert model.vicreg.positions == 64
    first, last = sum(errors[:5]) / 5, sum(errors[-5:]) / 5
    assert last < 0.2 * first, (first, last)  # seeds 0, 1, 4: at most 0.09
    states, actions = encoded_clips(model, tiny_rooms)
    with torch.no_grad():
        rollout = model.world_model.unroll(states[:, 0], actions)
    rollout_error = (rollout[:, -1] - states[:, -1]).square().sum(-1).mean()
    copy_last_error = (states[:, 0] - states[:, -1]).square().sum(-1).mean()
    assert rollout_error < 0.5 * copy_last_error, (rollout_error, copy_last_error)  # seeds 0, 1, 4: at most 0.27


def test_a_spatial_model_reads_its_actions_with_convs_over_the_map(tiny_rooms):
    spatial = {
        "encoder": {**ENCODER, "stages": 2, "spatial_channels": 4, "embed_dim": 4 * 8 * 8},
        "predictor": {"kind": "conv", "hidden_dim": 16, "history": 2},
        "expander": [],
        "inverse_dynamics": 1.0,
    }
    model = JEPAModule(**{**RECIPE, **spatial})
    assert model.inverse_dynamics.state_shape == model.world_model.encoder.state_shape == (4, 8, 8)
    data = VideoDataModule(str(tiny_rooms), num_frames=K + 1, batch_size=8, num_workers=0, resampled=False)
    terms = model.losses(frames_to_float(next(iter(data.loader(data.dataset("all"))))))
    assert 0.0 < float(terms["inverse_dynamics"]) < 10.0 and torch.isfinite(terms["loss"])
