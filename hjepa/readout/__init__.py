"""Reading what a frozen encoder holds: encoding a data split into states, and linear heads fitted on them.

Below both the agent (its configurator reads positions for aided tasks) and the evaluation probes.
"""

from hjepa.readout.features import EncodedSplit, encode_split
from hjepa.readout.linear_probe import LinearHead, accuracy, fit_classifier, fit_probe, fit_ridge, r2_per_dim

__all__ = [
    "EncodedSplit",
    "LinearHead",
    "accuracy",
    "encode_split",
    "fit_classifier",
    "fit_probe",
    "fit_ridge",
    "r2_per_dim",
]
