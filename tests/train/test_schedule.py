"""The learning-rate schedule: torch's own chained warmup and cosine for a fresh run, its floor past the end (where
the chained cosine climbs back), whatever length a run is resumed with."""

import pytest
import torch

from hjepa.train.schedule import WARMUP_START, warmup_cosine_scheduler


def chained(optimizer: torch.optim.Optimizer, warmup: int, total: int, floor: float):
    """torch's LinearLR warmup followed by its CosineAnnealingLR: the schedule written with torch's own parts."""
    peak = optimizer.param_groups[0]["lr"]
    linear = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START, total_iters=warmup)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=peak * floor)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])


def rates(make, steps: int, warmup: int = 5, total: int = 40, floor: float = 0.1) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = make(optimizer, warmup, total, floor)
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_a_fresh_run_warms_up_and_anneals_as_torchs_chained_schedulers_do() -> None:
    ours, torchs = rates(warmup_cosine_scheduler, 41), rates(chained, 41)
    assert ours == pytest.approx(torchs, rel=1e-6)
    assert (
        ours[0] == pytest.approx(2.0 * WARMUP_START)
        and ours[5] == pytest.approx(2.0)
        and ours[40] == pytest.approx(0.2)
    )


def test_past_its_end_the_rate_rests_at_the_floor_where_the_chained_cosine_climbs_back() -> None:
    ours, torchs = rates(warmup_cosine_scheduler, 80), rates(chained, 80)
    assert ours[40:] == pytest.approx([0.2] * 40)
    assert torchs[79] > 1.0  # the chained cosine, past its length, heads back to the peak
