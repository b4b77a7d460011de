"""`hjepa fit|validate`: LightningCLI over JEPAModule and VideoDataModule, configured by YAML.

Every field of a config can be overridden on the command line (`--trainer.max_steps 200`,
`--model.encoder.name resnet18`, `--data.batch_size 64`); the resolved config is saved in the run's
log folder as `config.yaml`. Checkpoints are written atomically (`AtomicCheckpointIO`) unless the
config names another checkpoint plugin, and `num_nodes` x `devices` is checked against the launcher.
"""

from __future__ import annotations

import warnings

from lightning.pytorch.cli import LightningCLI

from hjepa.data.datamodule import VideoDataModule
from hjepa.train.checkpoint_io import resolve_last
from hjepa.train.launch import check_launch
from hjepa.train.module import JEPAModule

CHECKPOINT_IO = {"class_path": "hjepa.train.checkpoint_io.AtomicCheckpointIO"}


class JEPACLI(LightningCLI):
    """LightningCLI that checks the launch layout before any process group is started, and resumes
    `--ckpt_path last` from a SLURM pre-emption checkpoint when that is the newest."""

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        check_launch(config.trainer.num_nodes, config.trainer.devices)

    def before_fit(self) -> None:
        arguments = self.config_init["fit"]
        if arguments.get("ckpt_path") == "last":
            dirs = [c.dirpath for c in self.trainer.checkpoint_callbacks if getattr(c, "dirpath", None)]
            arguments["ckpt_path"] = resolve_last(dirs, self.trainer.default_root_dir)


def run_lightning_cli(args: list[str]) -> LightningCLI:
    """Run `fit`, `validate`, ... with `args` as given after `hjepa`; returns the finished CLI."""
    with warnings.catch_warnings():
        # `args` is the whole command line here (from `hjepa` or the demo), not an addition to sys.argv.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return JEPACLI(
            JEPAModule,
            VideoDataModule,
            args=args,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"plugins": [CHECKPOINT_IO]},
        )
