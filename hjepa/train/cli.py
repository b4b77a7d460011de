"""`hjepa fit|validate`: LightningCLI over JEPAModule and VideoDataModule, configured by YAML.

Every field of a config can be overridden on the command line (`--trainer.max_steps 200`,
`--model.encoder.name resnet18`, `--data.batch_size 64`); the resolved config is saved in the run's
log folder as `config.yaml`. Checkpoints are written atomically (`AtomicCheckpointIO`) unless the
config names another checkpoint plugin, and read with `weights_only=True` only (`weights_only: false`,
which would unpickle arbitrary code, is refused); `num_nodes` x `devices` is checked against the launcher.
"""

from __future__ import annotations

import warnings

from lightning.pytorch.cli import LightningCLI

from hjepa.data.datamodule import VideoDataModule
from hjepa.train.checkpoint_io import CorruptCheckpointError, resolve_last
from hjepa.train.launch import check_launch
from hjepa.train.module import JEPAModule

CHECKPOINT_IO = {"class_path": "hjepa.train.checkpoint_io.AtomicCheckpointIO"}


class JEPACLI(LightningCLI):
    """LightningCLI that checks the launch layout before any process group is started, refuses
    `weights_only: false`, names a damaged `--ckpt_path` file, and resumes `--ckpt_path last` from a
    SLURM pre-emption checkpoint when that is the newest."""

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the hyperparameters of --ckpt_path here with a bare torch.load.
        try:
            super()._parse_ckpt_path()
        except Exception as error:  # truncated zip, damaged pickle, not a checkpoint at all
            raise CorruptCheckpointError.of(self.config[self.config.subcommand].get("ckpt_path"), error) from error

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        if config.get("weights_only") is False:
            raise ValueError(
                "weights_only: false would unpickle arbitrary code from the checkpoint; hjepa reads "
                "checkpoints with weights_only=True only (leave weights_only out)"
            )
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
