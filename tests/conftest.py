"""Fixtures shared by the agent and evaluation tests."""

import pytest
import torch

from hjepa.agent.experience import Experience
from hjepa.envs import make_world
from tests.agent.oracle import explored_episodes


@pytest.fixture(scope="module")
def experience() -> Experience:
    """Recorded exploration of TwoRooms; the oracle's representations are the positions themselves."""
    positions = torch.from_numpy(explored_episodes(make_world("two_rooms"), 256, 32)).float()
    return Experience(positions, positions)
