"""Expander: VICReg's Linear-BN-ReLU x2 then Linear, applied over leading (B, T) dims."""

import torch
from torch import nn

from hjepa.models import Expander


def test_layer_pattern_and_shape():
    exp = Expander(8, widths=(32, 16, 12))
    kinds = [type(m) for m in exp.net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert [m.out_features for m in exp.net if isinstance(m, nn.Linear)] == [32, 16, 12]
    assert exp(torch.randn(4, 5, 8)).shape == (4, 5, 12)


def test_leading_dims_form_one_batch():
    exp = Expander(6, widths=(10, 4)).train()
    x = torch.randn(3, 7, 6)
    torch.testing.assert_close(exp(x), exp.net(x.reshape(21, 6)).reshape(3, 7, 4))
