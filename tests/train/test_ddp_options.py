"""Options for large multi-GPU runs, checked on CPU: bf16 mixed precision keeps the loss of a fixed
batch close to fp32, gradient checkpointing leaves gradients unchanged, torch.compile keeps parameter
names, and TensorBoard logs the run."""

import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision

from hjepa.data.datamodule import VideoDataModule, frames_to_float
from hjepa.train.callbacks import EncoderOptions
from hjepa.train.cli import run_lightning_cli
from hjepa.train.module import JEPAModule
from tests.train.test_cli import tiny_config

# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4%); the loss sums many such terms whose
# errors partly cancel, and VICReg's statistics are computed in fp32.
BF16_LOSS_RTOL = 0.02


@pytest.fixture(scope="module")
def batch(tiny_rooms):
    data = VideoDataModule(
        str(tiny_rooms), num_frames=6, batch_size=16, num_workers=0, decoder="pyav", resampled=False, val_fraction=0.0
    )
    return frames_to_float(next(iter(data.loader(data.dataset("all")))))


def tiny_module(**encoder) -> JEPAModule:
    torch.manual_seed(0)
    return JEPAModule(
        encoder={"name": "convnet_tiny", "embed_dim": 16, "img_size": 32, "width": 8, **encoder},
        predictor={"kind": "gru", "hidden_dim": 16},
        expander=[32],
    )


def test_bf16_mixed_loss_stays_close_to_fp32(batch):
    model = tiny_module()
    with torch.no_grad():
        full = model.losses(batch)
        with MixedPrecision("bf16-mixed", "cpu").forward_context():
            mixed = model.losses(batch)
    for name in ("loss", "invariance", "variance", "covariance"):
        assert torch.isclose(mixed[name].float(), full[name], rtol=BF16_LOSS_RTOL), (name, mixed[name], full[name])
    assert not torch.equal(mixed["loss"].float(), full["loss"]), "autocast did run in bf16"


def test_gradient_checkpointing_keeps_the_gradients(batch):
    batch = {"frames": batch["frames"][:4], "actions": batch["actions"][:4]}
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = JEPAModule(
            encoder={"name": "resnet10t", "embed_dim": 16, "img_size": 32},
            predictor={"kind": "gru", "hidden_dim": 16},
            expander=[32],
        )
        EncoderOptions(grad_checkpointing=checkpointing).setup(None, model, "fit")
        assert model.world_model.encoder.backbone.grad_checkpointing is checkpointing
        model.losses(batch)["loss"].backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for plain, recomputed in zip(*grads):
        torch.testing.assert_close(plain, recomputed)


def test_gradient_checkpointing_on_a_backbone_without_it_is_refused():
    with pytest.raises(ValueError, match="grad_checkpointing.*ConvNetTiny"):
        EncoderOptions(grad_checkpointing=True).setup(None, tiny_module(), "fit")


def test_compiled_encoder_keeps_parameter_names_and_outputs(batch):
    model = tiny_module()
    names = list(model.state_dict())
    with torch.no_grad():
        before = model.world_model.encode(batch["frames"])
    EncoderOptions(compile=True, compile_backend="eager").setup(None, model, "fit")  # wiring, not speed
    with torch.no_grad():
        after = model.world_model.encode(batch["frames"])
    assert list(model.state_dict()) == names, "checkpoints load with or without compile"
    torch.testing.assert_close(after, before)


def test_tensorboard_logger(tiny_rooms, tmp_path):
    config = tiny_config(tmp_path, tiny_rooms)
    run_lightning_cli(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.max_steps",
            "2",
            "--trainer.log_every_n_steps",
            "1",
            "--trainer.logger",
            "lightning.pytorch.loggers.TensorBoardLogger",
            "--trainer.logger.save_dir",
            str(tmp_path / "tb"),
        ]
    )
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
