"""ShortTermMemory and TripletBuffer against explicit-loop transcriptions of sec. 3.1.3 / 3.3."""

import math

import pytest
import torch

from hjepa.agent.memory import ShortTermMemory, TripletBuffer


def reference_read(q, keys, values, temperature):
    """Mem(q) = sum_j c_j v_j with c = softmax(q.k_j / temperature), on Python floats."""
    logits = [sum(a * b for a, b in zip(q, k)) / temperature for k in keys]
    m = max(logits)
    e = [math.exp(x - m) for x in logits]
    c = [x / sum(e) for x in e]
    return [sum(c[j] * values[j][i] for j in range(len(keys))) for i in range(len(values[0]))], c


def _filled(n=4, dk=6, dv=3, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    mem = ShortTermMemory(capacity=8, key_dim=dk, value_dim=dv, **kw).double()
    keys, values = torch.eye(dk, dtype=torch.float64)[:n] * 2.0, torch.randn(n, dv, generator=g, dtype=torch.float64)
    mem.write(keys, values)
    return mem, keys, values, g


def test_read_matches_reference():
    mem, keys, values, g = _filled(temperature=0.7)
    assert len(mem) == 4
    q = torch.randn(5, 6, generator=g, dtype=torch.float64)
    out = mem.read(q)
    assert out.shape == (5, 3)
    for b in range(5):
        ref, _ = reference_read(q[b].tolist(), keys.tolist(), values.tolist(), 0.7)
        assert out[b].tolist() == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert mem.read(q.view(5, 1, 6)).shape == (5, 1, 3)  # any leading dims


def test_close_key_updates_every_slot_with_the_paper_rule():
    mem, keys, values, g = _filled(temperature=0.5, threshold=0.9)
    key = keys[1] + 0.05 * torch.randn(6, generator=g, dtype=torch.float64)
    r = torch.randn(3, generator=g, dtype=torch.float64)
    _, c = reference_read(key.tolist(), keys.tolist(), values.tolist(), 0.5)
    expected = [[c[j] * r[i].item() + (1 - c[j]) * values[j][i].item() for i in range(3)] for j in range(4)]
    slot = mem.write(key[None], r[None])
    assert slot.tolist() == [1] and len(mem) == 4
    assert mem.values[:4].tolist() == [pytest.approx(row, rel=1e-12, abs=1e-12) for row in expected]
    assert torch.equal(mem.keys[:4], keys)  # keys are not moved by an update


def test_far_key_allocates_a_new_slot():
    mem, keys, values, _ = _filled(threshold=0.9)
    key, value = torch.tensor([[1.0, 1.0, 0, 0, 0, 1.0]], dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64)
    assert mem.write(key, value).tolist() == [4]
    assert len(mem) == 5
    assert torch.equal(mem.keys[4], key[0]) and torch.equal(mem.values[4], value[0])
    assert torch.equal(mem.values[:4], values)


def test_capacity_evicts_least_recently_written_slot():
    mem = ShortTermMemory(capacity=3, key_dim=4, value_dim=1, threshold=0.9)
    e = torch.eye(4)
    mem.write(e[:3], torch.tensor([[0.0], [1.0], [2.0]]))
    mem.write(e[:1], torch.tensor([[5.0]]))  # refreshes slot 0: slot 1 is now least recently written
    assert len(mem) == 3
    assert mem.write(e[3:], torch.tensor([[3.0]])).tolist() == [1]
    assert len(mem) == 3
    assert torch.equal(mem.keys, e[[0, 3, 2]])
    assert mem.values[1].item() == 3.0
    assert mem.write(-e[:1], torch.tensor([[4.0]])).tolist() == [2]  # next eviction: slot 2
    mem.clear()
    assert len(mem) == 0
    with pytest.raises(RuntimeError, match="empty"):
        mem.read(e[:1])


def test_gradients_reach_query_and_values():
    mem, _, _, g = _filled(temperature=0.8)
    q = torch.randn(3, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(mem.read, (q,))
    mem.values.requires_grad_(True)
    mem.read(q).sum().backward()
    # d/dv_j of sum_b sum_i Mem(q_b)_i = sum_b c_bj, for every value coordinate
    c_sum = [
        sum(reference_read(q[b].tolist(), mem.keys[:4].tolist(), mem.values[:4].tolist(), 0.8)[1][j] for b in range(3))
        for j in range(4)
    ]
    assert mem.values.grad[:4, 0].tolist() == pytest.approx(c_sum, rel=1e-12)
    assert torch.all(mem.values.grad[4:] == 0)


def test_goal_stored_then_read_back_with_noisy_query():
    g = torch.Generator().manual_seed(1)
    mem = ShortTermMemory(capacity=16, key_dim=32, value_dim=24, temperature=0.1)
    keys, goals = torch.randn(6, 32, generator=g), torch.randn(6, 24, generator=g)
    mem.write(keys, goals)
    assert len(mem) == 6
    noisy = keys + 0.2 * torch.randn(6, 32, generator=g)
    torch.testing.assert_close(mem.read(noisy), goals, atol=1e-4, rtol=1e-4)


def test_state_dict_round_trip():
    mem, _, _, g = _filled()
    copy = ShortTermMemory(capacity=8, key_dim=6, value_dim=3).double()
    copy.load_state_dict(mem.state_dict())
    assert len(copy) == 4
    q = torch.randn(2, 6, generator=g, dtype=torch.float64)
    assert torch.equal(copy.read(q), mem.read(q))


def test_triplet_buffer_ring_order_and_sample():
    buf = TripletBuffer(capacity=5, state_dim=2)
    for tau in range(4):  # 2 parallel episodes, 8 triplets into 5 slots
        buf.add(tau, torch.full((2, 2), float(tau)), torch.tensor([tau, 10.0 + tau]))
    assert len(buf) == 5
    t = buf.all()
    assert t.tau.tolist() == [1, 2, 2, 3, 3]
    assert t.episode.tolist() == [1, 0, 1, 0, 1]
    assert t.costs.tolist() == [11.0, 2.0, 12.0, 3.0, 13.0]
    assert t.states[:, 0].tolist() == [1.0, 2.0, 2.0, 3.0, 3.0]
    s1 = buf.sample(7, torch.Generator().manual_seed(0))
    s2 = buf.sample(7, torch.Generator().manual_seed(0))
    assert s1.states.shape == (7, 2) and torch.equal(s1.tau, s2.tau)
    assert set(s1.costs.tolist()) <= set(t.costs.tolist())
    buf.clear()
    assert len(buf) == 0
