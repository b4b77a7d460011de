"""H-JEPA level 2 training: `hjepa fit` level-wise leaves level 1 bit-identical while level 2 learns,
joint training changes both levels, the gradient stop at the boundary, a level-2 latent, and named errors."""

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from hjepa.data.datamodule import VideoDataModule
from hjepa.export import export_checkpoint, export_world_model, load_encoder, load_world_model, read_world_model
from hjepa.models import build_world_model
from hjepa.models.latent import infer_clip_latent
from hjepa.train.cli import run_lightning_cli
from hjepa.train.module import JEPAModule
from hjepa.train.run_config import write_run_config

ROOT = Path(__file__).parents[2]
LEVEL1 = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32, "width": 8},
    "predictor": {"kind": "gru", "hidden_dim": 16, "action_dim": 2},
}
LEVEL2 = {
    "window": 2,
    "horizon": 2,
    "pool": "conv",
    "embed_dim": 8,
    "hidden_dim": 32,
    "predictor": {"kind": "gru", "hidden_dim": 32, "action_scale": 10.0},
    "expander": [64],
}


@pytest.fixture(scope="module")
def level1_export(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return export_world_model(build_world_model(LEVEL1), LEVEL1, tmp_path_factory.mktemp("level1") / "export")


def _fit_level2(shards: Path, level1: Path, out: Path, level2: dict, steps: int, warmup: int, seed: int = 0) -> None:
    """A level-wise `hjepa fit` through configs/level2_tiny_cpu.yaml into out/run, from `seed` (initialisation and
    data stream)."""
    overrides = {
        "seed_everything": seed,
        "trainer": {
            "max_steps": steps,
            "val_check_interval": steps,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "model": {"level1_checkpoint": str(level1), "level2": level2, "warmup_steps": warmup},
        "data": {
            "shards": str(shards),
            "num_frames": 8,
            "batch_size": 8,
            "num_workers": 0,
            "decoder": "pyav",
            "seed": seed,
        },
    }
    config = write_run_config(ROOT / "configs" / "level2_tiny_cpu.yaml", out / "run", overrides)
    run_lightning_cli(["fit", "--config", str(config)])


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("seed", [0, 1, 4])  # of seeds 0-4, the median, worst and best margin
def test_levelwise_fit_keeps_level1_bit_identical_and_lowers_level2_error(tiny_rooms, level1_export, tmp_path, seed):
    _fit_level2(tiny_rooms, level1_export, tmp_path, LEVEL2, steps=25, warmup=5, seed=seed)
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    _, level1_before = read_world_model(level1_export)
    _, level1_after = read_world_model(ckpt)
    assert level1_before.keys() == level1_after.keys()
    assert all(torch.equal(level1_before[k], level1_after[k]) for k in level1_before)

    with open(next((tmp_path / "run" / "logs").rglob("metrics.csv"))) as handle:
        errors = [
            float(r["train/level2/pred_error_rollout_rel"])
            for r in csv.DictReader(handle)
            if r.get("train/level2/pred_error_rollout_rel")
        ]
    first, last = sum(errors[:3]) / 3, sum(errors[-3:]) / 3
    assert last < 0.25 * first, (first, last)  # seeds 0-4: at most 0.09

    out = export_checkpoint(ckpt, tmp_path / "export")  # both levels, loadable at either
    frames = torch.rand(2, 8, 3, 32, 32)
    with torch.no_grad():
        assert load_encoder(out, level=2)(frames).shape == (2, 4, 8)  # (B, T // W, D2)
        assert torch.equal(load_encoder(out, level=1)(frames), load_encoder(level1_export)(frames))


def batch(steps: int = 8) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {"frames": torch.rand(4, steps, 3, 32, 32), "actions": torch.randn(4, steps - 1, 2) * 0.05}


def joint(**kwargs) -> JEPAModule:
    torch.manual_seed(0)
    return JEPAModule(
        encoder=LEVEL1["encoder"],
        predictor={"kind": "gru", "hidden_dim": 16},
        expander=[32],
        levels=[1, 2],
        level2=LEVEL2,
        **kwargs,
    )


def test_joint_training_changes_both_levels(tiny_rooms):
    model = joint(warmup_steps=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = VideoDataModule(
        str(tiny_rooms),
        num_frames=8,
        batch_size=8,
        num_workers=0,
        train_batches_per_epoch=5,
        val_fraction=0.0,
        decoder="pyav",
    )
    L.Trainer(
        max_steps=5,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(model, data)
    after = model.state_dict()
    for prefix in (
        "world_model.encoder.",
        "world_model.predictor.",
        "level2.world_model.encoder.pool.",
        "level2.world_model.encoder.head.",
        "level2.world_model.predictor.",
    ):
        assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(prefix)), prefix


def test_stop_gradient_decides_whether_level2_trains_the_level1_encoder():
    for stop, reaches in ((True, False), (False, True)):
        model = joint(stop_gradient=stop)
        terms = model.losses(batch())
        assert set(terms) >= {"loss", "level1/loss", "level2/loss", "level2/pred_loss_rollout"}
        torch.testing.assert_close(terms["loss"], terms["level1/loss"] + terms["level2/loss"])
        terms["level2/loss"].backward()
        grads = [p.grad for p in model.world_model.encoder.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads) == reaches
        assert all(p.grad is not None for p in model.level2.world_model.encoder.head.parameters())


def test_bad_level2_settings_name_the_field(level1_export):
    with pytest.raises(ValueError, match=r"model\.level1_checkpoint: levels \[2\]"):
        JEPAModule(levels=[2], level2=LEVEL2)
    with pytest.raises(ValueError, match=r"model\.levels: expected one of"):
        JEPAModule(levels=[3], level2=LEVEL2)
    with pytest.raises(ValueError, match=r"model\.level2: levels include 2"):
        JEPAModule(levels=[1, 2])
    with pytest.raises(ValueError, match=r"model\.encoder: leave it out"):
        JEPAModule(levels=[2], level2=LEVEL2, level1_checkpoint=str(level1_export), encoder=LEVEL1["encoder"])
    with pytest.raises(ValueError, match=r"model\.action_dim=3 does not match"):
        JEPAModule(levels=[2], level2=LEVEL2, level1_checkpoint=str(level1_export), action_dim=3)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        JEPAModule(levels=[2], level2=LEVEL2, level1_checkpoint="nowhere")
    model = JEPAModule(levels=[2], level2={**LEVEL2, "window": 5}, level1_checkpoint=str(level1_export))
    with pytest.raises(ValueError, match=r"model\.level2\.window=5 is longer than the clip: data\.num_frames=4"):
        model.losses(batch(4))
    model = JEPAModule(levels=[2], level2={**LEVEL2, "horizon": 3}, level1_checkpoint=str(level1_export))
    with pytest.raises(ValueError, match=r"model\.level2\.horizon=3: .* \(k \+ 1\) \* window = 8 .*num_frames=6"):
        model.losses(batch(6))


def test_a_level1_latent_comes_with_the_level1_checkpoint(tmp_path):
    config = {**LEVEL1, "latent": {"kind": "discrete", "num_codes": 2, "dim": 4}}
    torch.manual_seed(0)
    out = export_world_model(build_world_model(config), config, tmp_path / "export")
    model = JEPAModule(levels=[2], level2=LEVEL2, level1_checkpoint=str(out))
    assert model.world_model_config["latent"] == config["latent"]
    assert model.world_model.predictor.latent_dim == 4
    _, weights = read_world_model(out)
    assert all(torch.equal(weights[k], v) for k, v in model.world_model.state_dict().items())
    with pytest.raises(ValueError, match=r"model\.latent: leave it out"):
        JEPAModule(levels=[2], level2=LEVEL2, level1_checkpoint=str(out), latent=config["latent"])


def test_levelwise_fit_with_a_level2_latent_logs_its_terms_and_exports_it(tiny_rooms, level1_export, tmp_path):
    level2 = {**LEVEL2, "latent": {"kind": "discrete", "num_codes": 2, "dim": 4}}
    _fit_level2(tiny_rooms, level1_export, tmp_path, level2, steps=6, warmup=2)
    with open(next((tmp_path / "run" / "logs").rglob("metrics.csv"))) as handle:
        rows = list(csv.DictReader(handle))
    for name in ("energy", "regularizer", "relaxation", "amortized"):
        logged = [float(r[f"train/level2/latent_{name}"]) for r in rows if r.get(f"train/level2/latent_{name}")]
        assert len(logged) >= 5 and all(math.isfinite(v) for v in logged), name
    assert any(float(r["train/level2/latent_energy"]) > 0 for r in rows if r.get("train/level2/latent_energy"))

    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    out = export_checkpoint(ckpt, tmp_path / "export")
    trained, loaded = load_world_model(ckpt, level=2), load_world_model(out, level=2)
    assert loaded.latent.kind == "discrete" and loaded.predictor.latent_dim == 4
    assert torch.equal(trained.latent.codebook, loaded.latent.codebook)
    frames, actions = torch.rand(2, 8, 3, 32, 32), torch.randn(2, 3, 2) * 0.1
    with torch.no_grad():
        states = loaded.encode(frames)  # (B, T // W, D2)
        assert torch.equal(states, trained.encode(frames))
        for code in loaded.latent.codebook:
            z = code.expand(2, 3, -1)
            assert torch.equal(loaded.unroll(states[:, 0], actions, z), trained.unroll(states[:, 0], actions, z))
        first, second = (loaded.unroll(states[:, 0], actions, code.expand(2, 3, -1)) for code in loaded.latent.codebook)
    assert not torch.allclose(first, second)  # the code reaches the level-2 predictor
    z_trained, terms_trained = infer_clip_latent(trained.latent, trained.energy, states, actions)
    z_loaded, terms_loaded = infer_clip_latent(loaded.latent, loaded.energy, states, actions)
    assert torch.equal(z_trained, z_loaded)
    assert torch.equal(terms_trained["latent_energy"], terms_loaded["latent_energy"])


def test_level2_latent_terms_join_the_level2_loss_and_bad_kinds_name_the_field(level1_export):
    level2 = {**LEVEL2, "latent": {"kind": "discrete", "num_codes": 2, "dim": 4}}
    torch.manual_seed(0)
    model = JEPAModule(levels=[2], level2=level2, level1_checkpoint=str(level1_export))
    assert model.level2.world_model.predictor.latent_dim == 4
    assert model.level2.config["latent"] == level2["latent"]
    terms = model.losses(batch())
    assert {"level2/latent_energy", "level2/latent_relaxation", "level2/latent_amortized"} <= set(terms)
    terms["loss"].backward()  # q and the codes learn only through the latent terms in the loss
    latent = model.level2.world_model.latent
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in latent.amortizer.parameters())
    assert latent.codebook.grad is not None and latent.codebook.grad.abs().sum(-1).gt(0).all()
    with pytest.raises(ValueError, match=r"model\.level2\.latent\.kind: unknown kind 'gaussian'"):
        JEPAModule(levels=[2], level2={**LEVEL2, "latent": {"kind": "gaussian"}}, level1_checkpoint=str(level1_export))
    with pytest.raises(ValueError, match=r"model\.level2\.latent\.num_codes: expected >= 2"):
        JEPAModule(
            levels=[2],
            level2={**LEVEL2, "latent": {"kind": "discrete", "num_codes": 1}},
            level1_checkpoint=str(level1_export),
        )


def test_spatial_levels_pool_vicreg_over_their_maps_and_train_jointly():
    """Both levels spatial without expanders: each level's VICReg pools its statistics over the 8x8 map; with an
    expander the statistics are per column again; both levels' losses reach both encoders."""
    torch.manual_seed(0)
    spatial2 = {
        "window": 2,
        "horizon": 2,
        "pool": "conv",
        "embed_dim": 3 * 64,
        "hidden_dim": 8,
        "spatial_channels": 3,
        "predictor": {"kind": "conv", "hidden_dim": 8},
        "expander": [],
    }
    fields = {
        "encoder": {**LEVEL1["encoder"], "stages": 2, "spatial_channels": 2, "embed_dim": 2 * 64},
        "predictor": {"kind": "conv", "hidden_dim": 8},
        "levels": [1, 2],
    }
    model = JEPAModule(**fields, expander=[], level2=spatial2)
    assert model.vicreg.positions == 64 and model.level2.vicreg.positions == 64
    terms = model.losses(batch())
    assert torch.isfinite(terms["loss"])
    terms["loss"].backward()
    assert model.level2.world_model.predictor.net[0].weight.grad.abs().sum() > 0
    assert model.world_model.encoder.proj.weight.grad.abs().sum() > 0
    expanded = JEPAModule(**fields, expander=[16], level2={**spatial2, "expander": [16]})
    assert expanded.vicreg.positions == 1 and expanded.level2.vicreg.positions == 1
    with pytest.raises(ValueError, match=r"model\.level2\.vicreg\.positions"):
        JEPAModule(**fields, level2={**spatial2, "vicreg": {"positions": 4}})
