"""The shipped level-1 training configs build and train as written: only the hardware, the run folder and the
data are swapped for a tiny CPU run, so a renamed or mistyped field in a config fails here, not in a user's run."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.export import export_checkpoint, load_world_model
from hjepa.train.cli import run_lightning_cli
from hjepa.train.run_config import write_run_config

CONFIGS = Path(__file__).parents[2] / "configs"
CPU_RUN = {
    "accelerator": "cpu",
    "devices": 1,
    "num_nodes": 1,
    "strategy": "auto",
    "precision": "32-true",
    "max_steps": 2,
    "val_check_interval": None,
    "limit_val_batches": 0,
    "enable_progress_bar": False,
}


@pytest.fixture(scope="module")
def rooms(tmp_path_factory) -> Callable[[int], Path]:
    """TwoRooms episodes at a given image size (the size a config's encoder takes), made once per size."""
    made: dict[int, Path] = {}

    def at(size: int) -> Path:
        if size not in made:
            made[size] = tmp_path_factory.mktemp(f"rooms_{size}")
            settings = GenerateSettings("two_rooms", episodes=8, frames=6, shard_size=8, image_size=size)
            generate_shards(settings, made[size], progress=False)
        return made[size]

    return at


@pytest.mark.parametrize(
    "name",
    [
        "two_rooms_cpu.yaml",
        "two_rooms_random_door_cpu.yaml",
        "maze_cpu.yaml",
        "swm_tworoom_cpu.yaml",
        "swm_pusht_cpu.yaml",
        "swm_pusht_spatial_cpu.yaml",
        "base_gpu.yaml",
        "swm_tworoom_gpu.yaml",
        "swm_pusht_gpu.yaml",
    ],
)
def test_shipped_config_trains_as_written(name, rooms, tmp_path):
    written = yaml.safe_load((CONFIGS / name).read_text())
    shards = rooms(written["model"]["encoder"].get("img_size", 64))
    data = {"shards": str(shards), "num_frames": 4, "batch_size": 4, "num_workers": 0, "decoder": "pyav"}
    data.update({"train_batches_per_epoch": 2, "shuffle_buffer": 8, "pin_memory": False})
    config = write_run_config(CONFIGS / name, tmp_path, {"trainer": CPU_RUN, "data": data})
    cli = run_lightning_cli(["fit", "--config", str(config)])
    assert cli.trainer.global_step == 2
    assert cli.model.hparams["encoder"] == written["model"]["encoder"]
    assert cli.model.hparams["predictor"] == written["model"]["predictor"]
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())


def test_the_shipped_maze_levels_train_as_written_one_on_the_other(tmp_path):
    """configs/level2_maze_cpu.yaml on the level 1 of configs/maze_cpu.yaml, both as written but for hardware, run
    folder and data (Maze episodes long enough for its windows): the export holds both levels' spatial maps."""
    shards = tmp_path / "maze"
    generate_shards(GenerateSettings("maze", episodes=4, frames=32, shard_size=4), shards, progress=False)
    data = {"shards": str(shards), "batch_size": 2, "num_workers": 0, "decoder": "pyav", "pin_memory": False}
    data.update({"train_batches_per_epoch": 2, "shuffle_buffer": 4})
    level1 = write_run_config(CONFIGS / "maze_cpu.yaml", tmp_path / "l1", {"trainer": CPU_RUN, "data": data})
    run_lightning_cli(["fit", "--config", str(level1)])
    overrides = {
        "trainer": CPU_RUN,
        "data": data,
        "model": {"level1_checkpoint": str(tmp_path / "l1" / "checkpoints" / "last.ckpt")},
    }
    level2 = write_run_config(CONFIGS / "level2_maze_cpu.yaml", tmp_path / "l2", overrides)
    assert run_lightning_cli(["fit", "--config", str(level2)]).trainer.global_step == 2
    export = export_checkpoint(tmp_path / "l2" / "checkpoints" / "last.ckpt", tmp_path / "export")
    level1_model, level2_model = load_world_model(export, level=1), load_world_model(export, level=2)
    assert level1_model.encoder.state_shape == (16, 8, 8) and level2_model.encoder.state_shape == (8, 8, 8)
    with torch.no_grad():
        states = level2_model.encode(torch.rand(1, 16, 3, 64, 64))  # two windows of 8 frames
        assert states.shape == (1, 2, 512)
        assert level2_model.unroll(states[:, 0], torch.zeros(1, 3, 2)).shape == (1, 3, 512)
