"""Reading what a frozen encoder holds: encoding a data split into states or patch tokens, and linear heads and
attentive probes fitted on them.

Below both the agent (its configurator reads positions for aided tasks) and the evaluation probes.
"""

from hjepa.readout.attentive_probe import AttentiveProbe, class_scores, fit_attentive_probe
from hjepa.readout.features import EncodedSplit, PatchTokens, encode_split
from hjepa.readout.linear_probe import (
    LinearHead,
    accuracy,
    fit_classifier,
    fit_probe,
    fit_ridge,
    r2_per_dim,
    score_accuracy,
)

__all__ = [
    "AttentiveProbe",
    "EncodedSplit",
    "LinearHead",
    "PatchTokens",
    "accuracy",
    "class_scores",
    "encode_split",
    "fit_attentive_probe",
    "fit_classifier",
    "fit_probe",
    "fit_ridge",
    "r2_per_dim",
    "score_accuracy",
]
