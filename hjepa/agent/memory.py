"""Short-term memory (seed paper sec. 3.1.3, 3.3): a soft key-value store and the critic's triplet buffer."""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ShortTermMemory(nn.Module):
    """Key-value memory of `capacity` slots: soft read `Mem(q) = sum_j c_j v_j`, `c = softmax(q.k_j / temperature)`.

    A write whose key has cosine similarity >= `threshold` with some stored key updates every used slot
    with `v_j <- c_j r + (1 - c_j) v_j` (sec. 3.1.3); otherwise it allocates a slot for (key, value).
    When full, the slot least recently written (allocated, or nearest key of an update) is evicted.
    Reads never change the memory, so a planner may call them inside its optimisation loop.
    """

    def __init__(
        self, capacity: int, key_dim: int, value_dim: int, temperature: float = 1.0, threshold: float = 0.9
    ) -> None:
        super().__init__()
        if capacity < 1 or temperature <= 0 or not -1.0 <= threshold <= 1.0:
            raise ValueError(
                f"need capacity >= 1, temperature > 0, -1 <= threshold <= 1; got "
                f"{capacity=}, {temperature=}, {threshold=}"
            )
        self.capacity, self.temperature, self.threshold = capacity, temperature, threshold
        self.register_buffer("keys", torch.zeros(capacity, key_dim))
        self.register_buffer("values", torch.zeros(capacity, value_dim))
        # Used slots are always the prefix [0, size): allocation fills the next free slot, eviction reuses one.
        self.register_buffer("size", torch.zeros((), dtype=torch.long))
        self.register_buffer("clock", torch.zeros((), dtype=torch.long))
        self.register_buffer("last_written", torch.zeros(capacity, dtype=torch.long))

    def __len__(self) -> int:
        return int(self.size)

    def clear(self) -> None:
        """Forget every slot."""
        for buf in (self.keys, self.values, self.size, self.clock, self.last_written):
            buf.zero_()

    def weights(self, q: Tensor) -> Tensor:
        """Read coefficients c = softmax(q.k_j / temperature) over used slots: (..., Dk) -> (..., len)."""
        if len(self) == 0:
            raise RuntimeError("read from an empty ShortTermMemory; write something first")
        return torch.softmax(q @ self.keys[: len(self)].T / self.temperature, dim=-1)

    def read(self, q: Tensor) -> Tensor:
        """Mem(q) = sum_j c_j v_j: (..., Dk) -> (..., Dv); differentiable in q (and in values if they need grad)."""
        return self.weights(q) @ self.values[: len(self)]

    @torch.no_grad()
    def write(self, key: Tensor, value: Tensor) -> Tensor:
        """Store (B, Dk) keys with (B, Dv) values one after the other; returns the (B,) slot each matched or took."""
        slots = torch.empty(key.shape[0], dtype=torch.long, device=key.device)
        for i, (k, r) in enumerate(zip(key.to(self.keys), value.to(self.values))):
            n = len(self)
            sim = F.cosine_similarity(self.keys[:n], k[None], dim=-1)
            if n and sim.max() >= self.threshold:
                c = self.weights(k)[:, None]
                self.values[:n] = c * r + (1 - c) * self.values[:n]
                slot = int(sim.argmax())
            else:
                slot = n if n < self.capacity else int(self.last_written.argmin())
                self.keys[slot], self.values[slot] = k, r
                self.size.fill_(min(n + 1, self.capacity))
            self.clock += 1
            self.last_written[slot] = self.clock
            slots[i] = slot
        return slots


class Triplets(NamedTuple):
    """Stored triplets (tau, s_tau, IC(s_tau)) of sec. 3.3, plus the episode each came from; N rows."""

    tau: Tensor  # (N,) long
    states: Tensor  # (N, D)
    costs: Tensor  # (N,)
    episode: Tensor  # (N,) long


class TripletBuffer(nn.Module):
    """Ring buffer of the last `capacity` triplets (tau, s_tau, IC(s_tau)) that train the critic (sec. 3.3, fig. 7)."""

    def __init__(self, capacity: int, state_dim: int) -> None:
        super().__init__()
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.register_buffer("tau", torch.zeros(capacity, dtype=torch.long))
        self.register_buffer("states", torch.zeros(capacity, state_dim))
        self.register_buffer("costs", torch.zeros(capacity))
        self.register_buffer("episode", torch.zeros(capacity, dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))  # triplets ever added

    def __len__(self) -> int:
        return min(int(self.count), self.capacity)

    def clear(self) -> None:
        """Forget every triplet."""
        self.count.zero_()

    @torch.no_grad()
    def add(self, tau: int, states: Tensor, costs: Tensor, episode: Tensor | None = None) -> None:
        """Append time `tau`'s (B, D) states and (B,) costs; `episode` (B,) defaults to arange(B) (B parallel envs)."""
        b = states.shape[0]
        if b > self.capacity:
            raise ValueError(f"cannot add {b} triplets to a buffer of capacity {self.capacity}")
        if episode is None:
            episode = torch.arange(b, device=states.device)
        idx = (int(self.count) + torch.arange(b, device=self.tau.device)) % self.capacity
        self.tau[idx] = tau
        self.states[idx] = states.detach().to(self.states)
        self.costs[idx] = costs.detach().to(self.costs)
        self.episode[idx] = episode.to(self.episode)
        self.count += b

    def all(self) -> Triplets:
        """Every stored triplet, oldest first."""
        n = len(self)
        idx = (int(self.count) - n + torch.arange(n, device=self.tau.device)) % self.capacity
        return Triplets(self.tau[idx], self.states[idx], self.costs[idx], self.episode[idx])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Triplets:
        """n triplets drawn uniformly with replacement (generator on the buffer's device)."""
        if len(self) == 0:
            raise RuntimeError("sample from an empty TripletBuffer")
        stored = self.all()
        idx = torch.randint(len(self), (n,), generator=generator, device=self.tau.device)
        return Triplets(*(t[idx] for t in stored))
