import numpy as np
import pytest

from hjepa.data.clips import clip_actions, clip_span, clip_starts, frame_indices


def test_clip_actions_concatenate_the_actions_between_kept_frames():
    actions = np.arange(2 * 19, dtype=np.float32).reshape(19, 2)  # episode of 20 frames
    start, num_frames, stride = 3, 5, 3
    got = clip_actions(actions, start, num_frames, stride)
    expected = []
    for i in range(num_frames - 1):
        first = start + i * stride
        expected.append(np.concatenate([actions[first + j] for j in range(stride)]))
    assert got.shape == (4, 6)
    assert np.array_equal(got, np.stack(expected))


def test_clip_starts_stay_inside_the_episode():
    rng = np.random.default_rng(0)
    for _ in range(200):
        start = clip_starts(20, 4, 3, 1, rng)[0]
        assert 0 <= start and frame_indices(start, 4, 3)[-1] <= 19
    assert clip_starts(20, 4, 3, 3, None) == [0, 5, 10]
    assert clip_span(4, 3) == 10


def test_clip_longer_than_the_episode_is_an_error():
    with pytest.raises(ValueError, match="num_frames=8"):
        clip_starts(10, 8, 2, 1, None)
