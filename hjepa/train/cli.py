"""`hjepa fit|validate`: LightningCLI over JEPAModule and VideoDataModule, configured by YAML.

Every field of a config can be overridden on the command line (`--trainer.max_steps 200`,
`--model.encoder.name resnet18`, `--data.batch_size 64`); the resolved config is saved in the run's
log folder as `config.yaml`.
"""

from __future__ import annotations

import warnings

from lightning.pytorch.cli import LightningCLI

from hjepa.data.datamodule import VideoDataModule
from hjepa.train.module import JEPAModule


def run_lightning_cli(args: list[str]) -> LightningCLI:
    """Run `fit`, `validate`, ... with `args` as given after `hjepa`; returns the finished CLI."""
    with warnings.catch_warnings():
        # `args` is the whole command line here (from `hjepa` or the demo), not an addition to sys.argv.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return LightningCLI(
            JEPAModule,
            VideoDataModule,
            args=args,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
        )
