"""Latent variables (paper sec. 4.5): inference against brute force and closed forms, regularizers,
channel, prior samples, the world model's energy, config errors and export."""

import pytest
import torch

from hjepa.models import build_world_model
from hjepa.models.latent import Inferred, build_latent, over_time

B, DZ = 5, 3


def quadratic(targets: torch.Tensor):
    """E_b(z) = ||z - y_b||^2: energies (N, B) of candidates (N, B, Dz); counts its calls."""
    calls = []

    def energy_fn(z: torch.Tensor) -> torch.Tensor:
        calls.append(z.shape)
        return (z - targets).square().sum(-1)

    return energy_fn, calls


def test_discrete_inference_is_the_code_of_least_energy_in_one_call():
    torch.manual_seed(0)
    latent = build_latent({"kind": "discrete", "num_codes": 4, "dim": DZ}, state_dim=8)
    targets = torch.randn(B, DZ) * 0.1
    energy_fn, calls = quadratic(targets)
    inferred = latent.infer(energy_fn, B)
    assert calls == [torch.Size([4, B, DZ])], "all codes of all samples in one batched call"
    for b in range(B):  # slow, obvious transcription: try every code for every sample
        energies = [float((code - targets[b]).square().sum()) for code in latent.codebook.detach()]
        assert inferred.code[b] == min(range(4), key=energies.__getitem__)
        assert inferred.energy[b].item() == pytest.approx(min(energies), rel=1e-5)
    torch.testing.assert_close(inferred.z, latent.codebook[inferred.code])
    inferred.z.sum().backward()  # the gradient passes through the choice to the chosen codes only
    used = torch.zeros(4, dtype=torch.bool)
    used[inferred.code] = True
    assert (latent.codebook.grad[used] != 0).all() and (latent.codebook.grad[~used] == 0).all()


def test_relaxation_trains_the_codes_that_lost():
    torch.manual_seed(0)
    latent = build_latent({"kind": "discrete", "num_codes": 3, "dim": DZ, "relaxation": 0.1}, state_dim=8)
    energy_fn, _ = quadratic(torch.randn(B, DZ))
    inferred = latent.infer(energy_fn, B)
    loss = latent.relaxation_loss(energy_fn, inferred)
    energies = energy_fn(latent.codebook.detach()[:, None].expand(-1, B, -1))
    expected = 0.1 * (energies.sum(0) - inferred.energy).mean() / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    lost = torch.ones(3, dtype=torch.bool)
    lost[inferred.code] = False
    assert (latent.codebook.grad[lost].abs().sum(-1) > 0).all()


def test_gradient_inference_reaches_the_closed_form_minimum_in_batched_steps():
    torch.manual_seed(0)
    targets = 0.6 * torch.randn(B, DZ)
    cases = {  # kind -> argmin_z ||z - y||^2 + R(z), in closed form
        "low_dim": ({}, targets),
        "sparse": ({"l1": 0.4}, targets.sign() * (targets.abs() - 0.2).clamp_min(0)),  # soft threshold l1 / 2
        "noisy": ({"power": 0.5, "noise_std": 0.1}, targets / 1.5),  # ridge shrinkage 1 / (1 + power)
    }
    for kind, (fields, expected) in cases.items():
        latent = build_latent({"kind": kind, "dim": DZ, "steps": 400, "lr": 0.01, **fields}, state_dim=8)
        energy_fn, calls = quadratic(targets)
        inferred = latent.infer(energy_fn, B)
        assert len(calls) == 401 and all(shape == (1, B, DZ) for shape in calls), "one call per step for the batch"
        torch.testing.assert_close(inferred.z, expected, atol=0.03, rtol=0), kind
        torch.testing.assert_close(inferred.energy, (expected - targets).square().sum(-1), atol=0.03, rtol=0)


def test_regularizers_price_z_as_documented():
    z = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, -0.5]])
    sparse = build_latent({"kind": "sparse", "dim": 3, "l1": 0.2}, state_dim=4)
    noisy = build_latent({"kind": "noisy", "dim": 3, "power": 0.1}, state_dim=4)
    discrete = build_latent({"kind": "discrete", "dim": 3}, state_dim=4)
    torch.testing.assert_close(sparse.regularizer(z), torch.tensor([0.6, 0.3]))
    torch.testing.assert_close(noisy.regularizer(z), torch.tensor([0.5, 0.075]))
    torch.testing.assert_close(discrete.regularizer(z), torch.zeros(2))


def test_noisy_channel_adds_noise_in_training_only():
    torch.manual_seed(0)
    noisy = build_latent({"kind": "noisy", "dim": 4, "noise_std": 0.5}, state_dim=4)
    z = torch.zeros(20000, 4)
    assert noisy.channel(z).std().item() == pytest.approx(0.5, rel=0.03)
    noisy.eval()
    torch.testing.assert_close(noisy.channel(z), z)


def test_gradient_inference_works_where_autograd_is_off():
    """Validation and probes run under inference mode; inference of continuous z still needs gradients."""
    latent = build_latent({"kind": "low_dim", "dim": DZ, "steps": 50}, state_dim=8)
    targets = torch.randn(B, DZ)
    energy_fn, _ = quadratic(targets)
    with torch.inference_mode():
        inferred = latent.infer(energy_fn, B)
    assert (inferred.energy < 0.2 * targets.square().sum(-1)).all()


def test_samples_come_from_the_prior():
    generator = torch.Generator().manual_seed(0)
    discrete = build_latent({"kind": "discrete", "num_codes": 3, "dim": 2}, state_dim=4)
    codes = discrete.sample(3000, generator)
    matches = (codes[:, None] == discrete.codebook.detach()[None]).all(-1)  # (n, K)
    assert (matches.sum(-1) == 1).all() and (matches.float().mean(0) - 1 / 3).abs().max() < 0.03
    z = build_latent({"kind": "low_dim", "dim": 2}, state_dim=4).sample(20000, generator)
    assert z.shape == (20000, 2) and z.mean(0).abs().max() < 0.03 and (z.std(0) - 1).abs().max() < 0.03


def test_amortized_encoder_learns_to_predict_the_inferred_latent():
    """q(s_x, s_y) fitted to ž: here ž is the code whose sign matches the target's first coordinate."""
    torch.manual_seed(0)
    latent = build_latent({"kind": "discrete", "num_codes": 2, "dim": 2}, state_dim=4)
    optimizer = torch.optim.Adam(latent.amortizer.parameters(), lr=2e-2)

    def batch():
        context, target = torch.randn(64, 1, 4), torch.randn(64, 3, 4)
        code = (target[:, -1, 0] > 0).long()
        return context, target, latent.codebook.detach()[code], code

    for _ in range(60):
        context, target, z, code = batch()
        loss = latent.amortized_loss(context, target, Inferred(z, torch.zeros(64), code))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    context, target, z, _ = batch()
    hit = (latent.amortize(context, target) == z).all(-1).float().mean()
    assert hit > 0.95


def test_world_model_energy_batches_the_candidates_like_one_rollout_each():
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"embed_dim": 6, "img_size": 16, "width": 8},
            "predictor": {"kind": "gru", "hidden_dim": 16, "action_dim": 2},
            "latent": {"kind": "low_dim", "dim": DZ},
        }
    )
    assert model.predictor.latent_dim == DZ
    states, actions, z = torch.randn(B, 5, 6), torch.randn(B, 4, 2), torch.randn(4, B, DZ)
    energies = model.energy(states[:, :1], states[:, 1:], actions, z)
    assert energies.shape == (4, B)
    for n in range(4):
        for b in range(B):  # slow: one rollout per candidate and sample
            pred = model.unroll(states[b : b + 1, :1], actions[b : b + 1], over_time(z[n, b : b + 1], 4))
            expected = (pred - states[b : b + 1, 1:]).square().mean()
            assert energies[n, b].item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-6)


def test_sampled_latents_give_different_futures():
    torch.manual_seed(0)
    model = build_world_model(
        {
            "encoder": {"embed_dim": 6, "img_size": 16, "width": 8},
            "predictor": {"kind": "transformer", "hidden_dim": 16, "num_heads": 2, "action_dim": 2},
            "latent": {"kind": "low_dim", "dim": DZ},
        }
    )
    s0, actions = torch.randn(1, 6).expand(8, -1), torch.randn(1, 5, 2).expand(8, -1, -1)
    futures = model.unroll(s0, actions, over_time(model.latent.sample(8), 5))  # 8 futures of one start
    assert futures.shape == (8, 5, 6) and futures.std(0).min() > 1e-4


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"kind": "gaussian_mixture"}, "model.latent.kind"),
        ({"kind": "discrete", "codes": 4}, "model.latent.codes"),
        ({"kind": "discrete", "num_codes": 1}, "model.latent.num_codes"),
        ({"kind": "low_dim", "l1": 0.1}, "model.latent.l1"),
        ({"kind": "sparse", "l1": 0.0}, "model.latent.l1"),
        ({"kind": "noisy", "noise_std": -1.0}, "model.latent.noise_std"),
        ({"kind": "low_dim", "dim": 0}, "model.latent.dim"),
        ({"kind": "none", "dim": 4}, "model.latent"),
    ],
)
def test_bad_latent_config_names_the_field(cfg, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        build_latent(cfg, state_dim=4)


def test_latent_dim_comes_from_the_latent_section():
    assert build_latent({"kind": "none"}, state_dim=4) is None and build_latent(None, state_dim=4) is None
    with pytest.raises(ValueError, match=r"predictor\.latent_dim"):
        build_world_model({"encoder": {"embed_dim": 6}, "predictor": {"latent_dim": 2}, "latent": {"kind": "low_dim"}})


def test_export_restores_the_latent(tmp_path):
    from hjepa.export import export_world_model, load_world_model

    config = {
        "encoder": {"embed_dim": 6, "img_size": 16, "width": 8},
        "predictor": {"kind": "gru", "hidden_dim": 16},
        "latent": {"kind": "discrete", "num_codes": 3, "dim": 4},
    }
    model = build_world_model(config)
    export_world_model(model, config, tmp_path / "export")
    loaded = load_world_model(tmp_path / "export")
    torch.testing.assert_close(loaded.latent.codebook, model.latent.codebook)
    for name, value in model.latent.state_dict().items():
        torch.testing.assert_close(loaded.latent.state_dict()[name], value)
