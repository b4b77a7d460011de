"""Evaluation (seed paper sec. 4): linear probes of the encoder and of the world model's rollouts."""

from hjepa.eval.classify_probe import run_classify_probe
from hjepa.eval.features import EncodedSplit, encode_split
from hjepa.eval.linear_probe import LinearHead, accuracy, fit_classifier, fit_probe, fit_ridge, r2_per_dim
from hjepa.eval.probe import run_linear_probe
from hjepa.eval.rollout_probe import RolloutProbe, rollout_probe

__all__ = [
    "EncodedSplit",
    "LinearHead",
    "RolloutProbe",
    "accuracy",
    "encode_split",
    "fit_classifier",
    "fit_probe",
    "fit_ridge",
    "r2_per_dim",
    "rollout_probe",
    "run_classify_probe",
    "run_linear_probe",
]
