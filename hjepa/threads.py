"""How many torch threads small tensor work runs on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run on one torch thread, restoring the count after: the work of an agent (small batches) or of a simulator
    computing with small tensors mostly waits for other intra-op threads on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
