"""Fork probe (paper sec. 4.5, 4.8): a discrete latent predicts both futures of the fork; without one the
prediction sits between them."""

import torch

from hjepa.eval.fork_probe import run_fork_probe


def test_discrete_latent_predicts_each_branch_and_no_latent_sits_between(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster than two contending
    try:
        results = run_fork_probe(tmp_path, episodes=192, steps=150)
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "fork_probe.json").is_file()
    # min-over-z error several times below the no-latent error, for each true outcome
    assert results["fork_error_ratio"] > 4 and min(results["fork_error_ratio_branch"]) > 3, results
    # without a latent the predicted y stays near the centre line; the best code follows the true branch
    assert results["fork_offset_none"] < 0.3 * results["fork_offset_true"], results
    assert abs(results["fork_offset_min_z"] - results["fork_offset_true"]) < 0.3 * results["fork_offset_true"], results
    assert results["fork_code_purity"] > 0.9, results  # ž, the code of least energy, names the branch
    # two codes cannot fit another episode's target: its min-over-z energy stays well above the matched one
    assert results["mismatch_ratio_discrete"] > 3, results
    assert results["amortized_energy_ratio_discrete"] < 1.2, results
