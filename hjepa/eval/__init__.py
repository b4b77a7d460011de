"""Evaluation (seed paper sec. 4): linear and rollout probes of the encoder and of the world model, planning,
classification and hierarchy probes."""

from hjepa.eval.classify_probe import run_classify_probe
from hjepa.eval.probe import run_linear_probe
from hjepa.eval.rollout_probe import RolloutProbe, rollout_probe

__all__ = ["RolloutProbe", "rollout_probe", "run_classify_probe", "run_linear_probe"]
