"""Per-frame data seen through tubelets: a tubelet encoder turns t consecutive frames into one state.

Tubelet i covers frames [i*t, (i+1)*t). Its ground-truth state is the state of its last frame, and
the transition from tubelet i to i+1 is driven by the t actions that lead from the last frame of
tubelet i to the last frame of tubelet i+1, concatenated (the same rule as `frame_stride`).
"""

from __future__ import annotations

from torch import Tensor


def tubelet_states(states: Tensor, t: int) -> Tensor:
    """(B, T, ...) per-frame values -> (B, T // t, ...) values at the last frame of each tubelet."""
    return states[:, t - 1 :: t] if t > 1 else states


def tubelet_actions(actions: Tensor, t: int) -> Tensor:
    """(B, T-1, A) per-frame actions -> (B, T // t - 1, t * A) actions between consecutive tubelets."""
    if t == 1:
        return actions
    b, steps, a = actions.shape
    transitions = (steps + 1) // t - 1
    return actions[:, t - 1 : t - 1 + transitions * t].reshape(b, transitions, t * a)
