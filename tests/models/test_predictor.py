"""Predictors: rollout/teacher-forcing consistency, causality, action gradients, learning known dynamics."""

import pytest
import torch

from hjepa.models import build_predictor

B, T, D, A = 3, 6, 8, 2
KINDS = ["gru", "transformer", "conv", "conv-history-2"]
MAP = (2, 2, 2)  # the conv predictor's view of a state of D = 8 values


def _predictor(kind, **kwargs):
    torch.manual_seed(0)
    if kind.startswith("conv"):
        kwargs["state_shape"] = MAP
        kwargs["history"] = 2 if kind == "conv-history-2" else 1
        kind = "conv"
    return build_predictor(kind, **{"state_dim": D, "action_dim": A, "hidden_dim": 32, **kwargs})


def _sequence(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, D, generator=g), torch.randn(B, T - 1, A, generator=g)


@pytest.mark.parametrize("kind", KINDS)
def test_first_unrolled_step_is_the_teacher_forced_step(kind):
    pred = _predictor(kind)
    states, actions = _sequence()
    forced = pred.predict_teacher_forced(states, actions)
    assert forced.shape == (B, T - 1, D)
    rolled = pred.unroll(states[:, 0], actions)
    assert rolled.shape == (B, T - 1, D)
    torch.testing.assert_close(rolled[:, 0], forced[:, 0])
    # With a true context of k states, the first prediction is the teacher-forced one at k - 1.
    for k in (2, T - 1):
        first = pred.unroll(states[:, :k], actions)[:, 0]
        torch.testing.assert_close(first, forced[:, k - 1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_unroll_feeds_back_its_own_predictions(kind):
    pred = _predictor(kind)
    states, actions = _sequence()
    rolled = pred.unroll(states[:, 0], actions)
    # Re-derive each step with the parallel teacher-forced pass over the predicted trajectory.
    traj = torch.cat([states[:, :1], rolled], dim=1)
    for t in range(T - 1):
        one_step = pred.predict_teacher_forced(traj[:, : t + 2], actions[:, : t + 1])[:, -1]
        torch.testing.assert_close(one_step, rolled[:, t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_prediction_at_t_ignores_later_inputs(kind):
    pred = _predictor(kind)
    states, actions = _sequence()
    before = pred.predict_teacher_forced(states, actions)
    t = 2
    states2, actions2 = states.clone(), actions.clone()
    states2[:, t + 1 :] += 5.0
    actions2[:, t + 1 :] -= 3.0
    after = pred.predict_teacher_forced(states2, actions2)
    torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1])
    assert not torch.allclose(after[:, t + 1 :], before[:, t + 1 :])


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_actions_and_latent(kind):
    pred = _predictor(kind, latent_dim=3)
    states, actions = _sequence()
    actions.requires_grad_()
    z = torch.randn(B, T - 1, 3, requires_grad=True)
    pred.unroll(states[:, 0], actions, z).pow(2).sum().backward()
    assert actions.grad.abs().sum() > 0 and z.grad.abs().sum() > 0
    # The last action still moves the last state (every step is differentiable).
    assert actions.grad[:, -1].abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_worlds_without_actions(kind):
    pred = _predictor(kind, action_dim=0, hidden_dim=16)
    assert pred.unroll(torch.randn(B, D), torch.zeros(B, 4, 0)).shape == (B, 4, D)


def test_input_errors_name_the_field():
    pred = _predictor("gru")
    states, actions = _sequence()
    with pytest.raises(ValueError, match=r"predictor\.latent_dim"):
        pred.unroll(states[:, 0], actions, torch.zeros(B, T - 1, 2))
    with pytest.raises(ValueError, match=r"predictor\.latent_dim"):
        _predictor("gru", latent_dim=2).unroll(states[:, 0], actions)
    with pytest.raises(ValueError, match=r"predictor\.action_dim"):
        pred.unroll(states[:, 0], torch.zeros(B, T - 1, A + 1))
    with pytest.raises(ValueError, match=r"predictor\.max_len"):
        _predictor("transformer", max_len=4).unroll(states[:, 0], actions)


@pytest.mark.parametrize(
    "kind,fields,field",
    [
        ("lstm", {}, "predictor.kind"),
        ("gru", {"num_heads": 2}, "predictor.num_heads"),
        ("transformer", {"foo": 1}, "predictor.foo"),
        ("conv", {"state_dim": 8}, "spatial_channels"),
        ("conv", {"state_dim": 8, "state_shape": (2, 2, 2), "num_layers": 1}, "predictor.num_layers"),
        ("conv", {"state_dim": 8, "state_shape": (2, 2, 2), "history": 3}, "predictor.history"),
    ],
)
def test_bad_config_names_the_field(kind, fields, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        build_predictor(kind, **fields)


@pytest.mark.parametrize("kind", KINDS)
def test_learns_known_linear_dynamics(kind):
    """s_{t+1} = s_t + W a_t: the teacher-forced error on fresh data falls 10x within 150 Adam steps."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(A, D, generator=g) * 0.5

    def batch(n=32):
        s0 = torch.randn(n, 1, D, generator=g)
        actions = torch.randn(n, T - 1, A, generator=g)
        return torch.cat([s0, s0 + torch.cumsum(actions @ w, dim=1)], dim=1), actions

    pred = _predictor(kind)
    opt = torch.optim.Adam(pred.parameters(), lr=3e-3)
    test_states, test_actions = batch(256)

    def held_out_error():
        with torch.no_grad():
            forced = pred.predict_teacher_forced(test_states, test_actions)
            return (forced - test_states[:, 1:]).pow(2).mean().item()

    initial = held_out_error()
    for _ in range(150):
        states, actions = batch()
        loss = (pred.predict_teacher_forced(states, actions) - states[:, 1:]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert held_out_error() < initial / 10


def test_conv_history_2_learns_inertia_that_one_map_cannot_show():
    """s_{t+1} = s_t + 0.8 (s_t - s_{t-1}) + W a_t: the speed is in no single state. After the same 200 Adam
    steps, the predictor that also sees the last change predicts 5x better than the Markov one."""

    def batch(g, n=32):
        w = torch.linspace(-0.5, 0.5, A * D).reshape(A, D)
        states = [torch.randn(n, D, generator=g)]
        states.append(states[0] + 0.3 * torch.randn(n, D, generator=g))  # a first move at some speed
        actions = torch.randn(n, T - 1, A, generator=g)
        for t in range(1, T - 1):
            states.append(states[-1] + 0.8 * (states[-1] - states[-2]) + actions[:, t] @ w)
        return torch.stack(states, dim=1), actions

    errors = {}
    for kind in ("conv", "conv-history-2"):
        g = torch.Generator().manual_seed(2)
        pred = _predictor(kind)
        opt = torch.optim.Adam(pred.parameters(), lr=3e-3)
        for _ in range(200):
            states, actions = batch(g)
            # from the second state on: the first transition's speed is not in the data of either
            loss = (pred.predict_teacher_forced(states, actions)[:, 1:] - states[:, 2:]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            states, actions = batch(torch.Generator().manual_seed(9), 256)
            errors[kind] = (pred.predict_teacher_forced(states, actions)[:, 1:] - states[:, 2:]).pow(2).mean().item()
    assert errors["conv-history-2"] < errors["conv"] / 5, errors


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_action_scale_is_applied_inside_the_model(kind):
    torch.manual_seed(0)
    scaled = build_predictor(kind, state_dim=8, action_dim=2, hidden_dim=16, action_scale=20.0)
    plain = build_predictor(kind, state_dim=8, action_dim=2, hidden_dim=16)
    plain.load_state_dict(scaled.state_dict())
    s0, actions = torch.randn(3, 8), torch.randn(3, 5, 2) * 0.05
    assert torch.allclose(scaled.unroll(s0, actions), plain.unroll(s0, 20.0 * actions), atol=1e-6)
    assert not torch.allclose(scaled.unroll(s0, actions), plain.unroll(s0, actions), atol=1e-3)


def test_conv_predictor_is_local_on_the_map():
    """Two 3x3 convs see two cells either way: a change at one cell moves only the predictions within that
    square, and the same change one cell to the right moves the same square one cell to the right."""
    torch.manual_seed(0)
    c, h, w = 3, 9, 9
    pred = build_predictor("conv", state_dim=c * h * w, action_dim=A, state_shape=(c, h, w), num_layers=2).eval()
    state, actions = torch.randn(1, c * h * w), torch.randn(1, 1, A)

    def changed_cells(row, col):
        bumped = state.view(c, h, w).clone()
        bumped[:, row, col] += 1.0
        with torch.no_grad():
            delta = pred.unroll(bumped.view(1, -1), actions) - pred.unroll(state, actions)
        return delta.view(c, h, w).abs().amax(0) > 1e-6

    near = torch.zeros(h, w, dtype=torch.bool)
    near[2:7, 2:7] = True  # within two cells of (4, 4)
    assert torch.equal(changed_cells(4, 4), near)
    assert torch.equal(changed_cells(4, 5), near.roll(1, dims=1))
