"""Attentive probe: its forward against a hand-written cross-attention, and classes that only the order of frames
or the layout of patches carries, which the time- or patch-pooled linear probe cannot read."""

import math

import pytest
import torch

from hjepa.readout.attentive_probe import AttentiveProbe, class_scores, fit_attentive_probe
from hjepa.readout.linear_probe import accuracy, fit_classifier, score_accuracy
from hjepa.threads import one_torch_thread

DIM = 16


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Batches of a few clips: on shared cores, intra-op threads spin-wait on each other and make training crawl.
    with one_torch_thread():
        yield


def test_forward_is_one_query_attending_over_normalised_tokens_plus_positions():
    torch.manual_seed(0)
    probe = AttentiveProbe(DIM, num_tokens=5, num_classes=3).eval()
    with torch.no_grad():
        probe.position.normal_()
    tokens = torch.randn(4, 5, DIM) * 3 + 1
    normalised = (tokens - tokens.mean(-1, keepdim=True)) / (tokens.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    keys = normalised + probe.position  # LayerNorm starts as the identity affine map
    w_q, w_k, w_v = probe.attend.in_proj_weight.chunk(3)
    b_q, b_k, b_v = probe.attend.in_proj_bias.chunk(3)
    q = probe.queries @ w_q.T + b_q  # (1, D)
    k, v = keys @ w_k.T + b_k, keys @ w_v.T + b_v  # (B, L, D)
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(DIM), dim=-1)  # (B, 1, L)
    gathered = (weights @ v) @ probe.attend.out_proj.weight.T + probe.attend.out_proj.bias
    expected = gathered.flatten(1) @ probe.classify.weight.T + probe.classify.bias
    with torch.no_grad():
        torch.testing.assert_close(probe(tokens), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(class_scores(probe, tokens, batch_size=3), probe(tokens))


def patterns(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels (n,) and, per clip, the patterns (n, D) of its two parts: a then b for class 0, b then a for class 1."""
    a, b = torch.randn(2, DIM, generator=torch.Generator().manual_seed(1))
    labels = torch.randint(2, (n,), generator=torch.Generator().manual_seed(seed))
    first = torch.where(labels[:, None] == 0, a, b)
    return labels, first, torch.where(labels[:, None] == 0, b, a)


def noisy(tokens: torch.Tensor, seed: int) -> torch.Tensor:
    return tokens + 0.5 * torch.randn(tokens.shape, generator=torch.Generator().manual_seed(seed + 1))


def frame_order(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame tokens (n, 4, D): two frames of one pattern, then two of the other; the mean over time is the same
    for both classes up to noise."""
    labels, first, second = patterns(n, seed)
    return noisy(torch.stack([first, first, second, second], 1), seed), labels


def layout(n: int, seed: int, side: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch tokens (n, side * side, D) in row-major order: one pattern on the left half of the frame, the other on
    the right; the mean over patches is the same for both classes up to noise."""
    labels, first, second = patterns(n, seed)
    left = first[:, None, None].expand(n, side, side // 2, DIM)
    right = second[:, None, None].expand(n, side, side // 2, DIM)
    return noisy(torch.cat([left, right], 2).flatten(1, 2), seed), labels


@pytest.mark.parametrize("clips", [frame_order, layout])
def test_the_attentive_probe_reads_what_pooling_loses(clips):
    train_x, train_y = clips(64, 0)
    val_x, val_y = clips(64, 100)
    probe = fit_attentive_probe(train_x, train_y, 2, epochs=600, seed=0)  # one batch an epoch
    attentive = score_accuracy(class_scores(probe, val_x), val_y, 2)
    head = fit_classifier(train_x.mean(1, keepdim=True), train_y[:, None], 2)
    pooled = accuracy(head, val_x.mean(1, keepdim=True), val_y[:, None], 2)
    assert attentive >= 0.9 and pooled <= 0.7, (attentive, pooled)


def test_fitting_is_seeded_and_refuses_a_single_clip_and_no_epochs():
    tokens, labels = frame_order(8, 0)
    first, again = (fit_attentive_probe(tokens, labels, 2, epochs=3, batch_size=3, seed=1) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="at least 2 training clips"):
        fit_attentive_probe(torch.randn(1, 4, DIM), torch.zeros(1), 2)
    with pytest.raises(ValueError, match="epochs: expected at least 1"):
        fit_attentive_probe(torch.randn(3, 4, DIM), torch.zeros(3), 2, epochs=0)
