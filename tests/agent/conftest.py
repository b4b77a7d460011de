"""Fixtures shared by the agent tests."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny batches: on shared cores, intra-op threads spin-wait on each other and make the searches 10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
