"""Ridge probe heads: checked against numpy least squares, and on features that do / do not hold the state."""

import numpy as np
import pytest
import torch

from hjepa.readout.linear_probe import accuracy, fit_classifier, fit_probe, fit_ridge, r2_per_dim


def standardize(a):
    std = a.std(0)
    return (a - a.mean(0)) / np.where(std > 0, std, 1), a.mean(0), np.where(std > 0, std, 1)


def test_ridge_matches_numpy_lstsq_on_the_augmented_system():
    rng = np.random.default_rng(0)
    x, y, ridge = rng.normal(size=(60, 7)) * [1, 2, 3, 4, 5, 6, 0], rng.normal(size=(60, 3)), 0.3
    xn, xm, xs = standardize(x)
    yn, ym, ys = standardize(y)
    # min |xn w - yn|^2 / n + ridge |w|^2  <=>  least squares on [xn; sqrt(n ridge) I] w = [yn; 0]
    a = np.vstack([xn, np.sqrt(len(x) * ridge) * np.eye(7)])
    w = np.linalg.lstsq(a, np.vstack([yn, np.zeros((7, 3))]), rcond=None)[0]
    x_new = rng.normal(size=(5, 7))
    expected = (x_new - xm) / xs @ w * ys + ym
    head = fit_ridge(torch.from_numpy(x), torch.from_numpy(y), ridge)
    np.testing.assert_allclose(head(torch.from_numpy(x_new)).numpy(), expected, rtol=1e-10, atol=1e-10)


def test_zero_ridge_is_ordinary_least_squares_with_intercept():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    coef = np.linalg.lstsq(np.hstack([x, np.ones((50, 1))]), y, rcond=None)[0]
    head = fit_ridge(torch.from_numpy(x).float(), torch.from_numpy(y).float(), 0.0)
    np.testing.assert_allclose(head.weight.numpy(), coef[:4], atol=1e-5)
    np.testing.assert_allclose(head.bias.numpy(), coef[4], atol=1e-5)


def test_r2_per_dim_is_one_minus_relative_squared_error():
    pred, target = torch.randn(4, 5, 2), torch.randn(4, 5, 2)
    p, t = pred.reshape(-1, 2).double(), target.reshape(-1, 2).double()
    expected = 1 - ((p - t) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    torch.testing.assert_close(r2_per_dim(pred, target), expected)


def clips(n, t=6, d=24, noise=0.05, seed=0):
    """States (n, t, 2) in the unit square; features linear in the state plus noise, and pure noise."""
    g = torch.Generator().manual_seed(seed)
    states = torch.rand(n, t, 2, generator=g)
    mixing = torch.randn(2, d, generator=g)
    linear = states @ mixing + noise * torch.randn(n, t, d, generator=g)
    return states, linear, torch.randn(n, t, d, generator=g)


def test_probe_reads_a_linear_code_and_nothing_from_noise_on_held_out_clips():
    states, linear, noise = clips(120)
    train, test = slice(0, 90), slice(90, None)
    r2_linear = r2_per_dim(fit_probe(linear[train], states[train])(linear[test]), states[test])
    r2_noise = r2_per_dim(fit_probe(noise[train], states[train])(noise[test]), states[test])
    assert (r2_linear > 0.95).all(), r2_linear
    assert (r2_noise < 0.05).all(), r2_noise


def test_classifier_reads_the_room_and_accuracy_counts_frames():
    states, linear, noise = clips(120)
    rooms = (states[..., 0] > 0.5).long()  # (N, T)
    train, test = slice(0, 90), slice(90, None)
    acc_linear = accuracy(fit_classifier(linear[train], rooms[train], 2), linear[test], rooms[test], 2)
    acc_noise = accuracy(fit_classifier(noise[train], rooms[train], 2), noise[test], rooms[test], 2)
    assert acc_linear > 0.9 and acc_noise < 0.65, (acc_linear, acc_noise)
    head = fit_classifier(linear[train], rooms[train], 2)
    by_hand = (head(linear[test]).argmax(-1) == rooms[test]).double().mean().item()
    assert accuracy(head, linear[test], rooms[test], 2) == pytest.approx(by_hand)


def test_probe_refuses_a_single_clip():
    states, linear, _ = clips(1)
    with pytest.raises(ValueError, match="at least 2 training clips"):
        fit_probe(linear, states)
