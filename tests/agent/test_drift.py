"""Drift-corrected rollouts and holding still at the goal: a predictor that foresees motion under action 0, or
cannot foresee any state closer than a floor, must not walk the agent off a goal it has reached."""

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.drift import DriftCorrected
from hjepa.agent.task import TaskSpec
from hjepa.eval.episodes import agent_actor, run_episode, task_env
from tests.agent.oracle import (
    DriftingOracleWorldModel,
    FloorOracleWorldModel,
    OracleWorldModel,
)
from tests.agent.two_rooms import BOX

SAME_ROOM = (0, 3, 4)  # episodes whose goal the wall-blind oracles can walk straight to


def reach(**changes) -> TaskSpec:
    return TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(**changes)


def test_drift_correction_leaves_only_the_effect_of_the_actions():
    model = DriftingOracleWorldModel()
    generator = torch.Generator().manual_seed(0)
    s0 = torch.tensor([[0.2, 0.3]] * 3 + [[0.7, 0.6]] * 2)  # two starts in one call
    actions = torch.rand((5, 6, 2), generator=generator) * 0.1 - 0.05
    got = DriftCorrected(model).unroll(s0, actions)
    assert model.calls == 1  # the still rollouts ride in the candidates' call
    for n in range(5):
        position = s0[n].tolist()
        for h in range(6):
            position = [p + a for p, a in zip(position, actions[n, h].tolist())]
            assert got[n, h].tolist() == pytest.approx(position, abs=1e-6)
    assert (model.unroll(s0, actions) - got).abs().max() > 0.05  # the model itself drifts
    exact = OracleWorldModel()
    assert torch.allclose(DriftCorrected(exact).unroll(s0, actions), exact.unroll(s0, actions), atol=1e-6)


def last_steps(model, task: TaskSpec, seed: int, steps: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the goal (steps + 1,) and positions (steps + 1, 2) over an episode that goes on after the goal
    is reached."""
    agent = Agent(model, Configurator(task, model.encoder.embed_dim, *BOX), seed=0)
    result = run_episode(task_env("hjepa/TwoRooms-v0", steps), agent_actor(agent), seed, agent.reset, terminate=False)
    return np.asarray(result.distances), result.positions


@pytest.mark.parametrize("seed", SAME_ROOM)
def test_drift_correction_keeps_a_drifting_model_at_the_goal(seed):
    drifting, _ = last_steps(DriftingOracleWorldModel(), reach(drift_correction=False, hold=False), seed)
    corrected, _ = last_steps(DriftingOracleWorldModel(), reach(drift_correction=True, hold=False), seed)
    assert corrected.min() < 0.005
    assert corrected[-30:].mean() < 0.5 * drifting[-30:].mean(), (corrected[-30:].mean(), drifting[-30:].mean())


@pytest.mark.parametrize("seed", SAME_ROOM)
def test_hold_stops_chasing_a_prediction_that_cannot_reach_the_goal(seed):
    _, moved = last_steps(FloorOracleWorldModel(), reach(drift_correction=False, hold=False), seed, steps=120)
    distances, held = last_steps(FloorOracleWorldModel(), reach(drift_correction=False, hold=True), seed, steps=120)
    assert np.abs(np.diff(moved[-20:], axis=0)).max() > 0.005  # without hold the agent keeps moving
    assert np.abs(np.diff(held[-20:], axis=0)).max() == 0  # with it, it stands still...
    assert distances[-1] < 1.5 * 0.02  # ...about the predictor's floor from the goal, where no plan looks closer


def test_hold_leaves_an_exact_models_way_to_the_goal_unchanged():
    env = task_env("hjepa/TwoRooms-v0", 60)
    runs = []
    for hold in (False, True):
        agent = Agent(OracleWorldModel(), Configurator(reach(hold=hold), 2, *BOX), seed=0)
        runs.append(run_episode(env, agent_actor(agent), 3, agent.reset))
    assert runs[0].success and runs[1].success
    np.testing.assert_array_equal(runs[0].positions, runs[1].positions)  # it never held before the goal
