import torch

from hjepa.models.tubelet import tubelet_actions, tubelet_states


def test_tubelet_alignment_against_a_hand_loop():
    b, frames, a, t = 2, 9, 2, 3
    actions = torch.arange(b * (frames - 1) * a, dtype=torch.float32).reshape(b, frames - 1, a)
    states = torch.arange(b * frames, dtype=torch.float32).reshape(b, frames, 1)
    grouped = tubelet_actions(actions, t)
    assert grouped.shape == (b, frames // t - 1, t * a)
    for i in range(frames // t - 1):
        last_of_i = (i + 1) * t - 1  # the actions from the last frame of tubelet i to that of tubelet i+1
        expected = torch.cat([actions[:, last_of_i + k] for k in range(t)], dim=-1)
        assert torch.equal(grouped[:, i], expected)
    assert torch.equal(tubelet_states(states, t)[:, :, 0], states[:, [2, 5, 8], 0])
    assert torch.equal(tubelet_actions(actions, 1), actions)
