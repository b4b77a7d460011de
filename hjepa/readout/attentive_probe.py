"""Attentive probe (the frozen evaluation of V-JEPA, Bardes et al. 2024): learned queries cross-attend over the
tokens of a clip from a frozen encoder, and a linear layer reads the class from what they gather.

Unlike a linear head on time-pooled states, it can weigh frames and patches by their content and, through a
learned position per token, read the order of frames and the place of patches, which a mean discards.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentiveProbe(nn.Module):
    """Tokens (B, L, D) -> class scores (B, K): queries (Q, D) attend over the normalised tokens plus a learned
    position each (per-frame and per-patch tokens of a frozen encoder do not say where they sit in the clip)."""

    def __init__(self, dim: int, num_tokens: int, num_classes: int, num_queries: int = 1, num_heads: int = 1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.position = nn.Parameter(nn.init.trunc_normal_(torch.empty(num_tokens, dim), std=0.02))
        self.queries = nn.Parameter(nn.init.trunc_normal_(torch.empty(num_queries, dim), std=0.02))
        self.attend = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.classify = nn.Linear(num_queries * dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, L, D) -> (B, K)."""
        keys = self.norm(tokens) + self.position
        gathered, _ = self.attend(self.queries.expand(len(keys), -1, -1), keys, keys, need_weights=False)
        return self.classify(gathered.flatten(1))


def fit_attentive_probe(
    tokens: Tensor,
    labels: Tensor,
    num_classes: int,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> AttentiveProbe:
    """An `AttentiveProbe` fitted on clips' tokens (N, L, D) from a frozen encoder and their labels (N,) int:
    cross-entropy, AdamW with `lr` decayed by a cosine over `epochs` passes in shuffled batches of `batch_size`.
    Returned in eval mode on `device`; the same seed gives the same probe."""
    n, length, dim = tokens.shape
    if n < 2:
        raise ValueError(f"an attentive probe needs at least 2 training clips, got {n}")
    if epochs < 1:
        raise ValueError(f"epochs: expected at least 1 pass over the training clips, got {epochs}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = AttentiveProbe(dim, length, num_classes).to(device)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * math.ceil(n / batch_size))
    shuffle = torch.Generator().manual_seed(seed)
    labels = labels.long()
    for _ in range(epochs):
        for index in torch.randperm(n, generator=shuffle).split(batch_size):
            loss = F.cross_entropy(probe(tokens[index].to(device)), labels[index].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return probe.eval()


@torch.no_grad()
def class_scores(probe: AttentiveProbe, tokens: Tensor, batch_size: int = 256) -> Tensor:
    """Scores (N, K) on the CPU of clips' tokens (N, L, D), run `batch_size` clips at a time on the probe's device."""
    device = probe.position.device
    return torch.cat([probe(chunk.to(device)).float().cpu() for chunk in tokens.split(batch_size)])
