"""Fixtures shared by the agent tests."""

import pytest
import torch

from hjepa.agent.experience import Experience
from hjepa.envs import make_world
from tests.agent.oracle import explored_episodes


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny batches: on shared cores, intra-op threads spin-wait on each other and make the searches 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def experience() -> Experience:
    """Recorded exploration of TwoRooms; the oracle's representations are the positions themselves."""
    positions = torch.from_numpy(explored_episodes(make_world("two_rooms"), 256, 32)).float()
    return Experience(positions, positions)
