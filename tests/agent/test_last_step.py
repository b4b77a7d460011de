"""Planning rollouts from the last step: a predictor that looks back one state is priced from the world as it moves
now, and from rest at an episode's first step."""

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.last_step import AfterLastStep
from hjepa.agent.task import TaskSpec
from hjepa.models import build_world_model

C, H, W, A = 2, 4, 4, 2  # a 32 px frame after 3 stages: a 4x4 map of 2 channels


def looking_back_model(history: int = 2):
    torch.manual_seed(0)
    return build_world_model(
        {
            "encoder": {"embed_dim": C * H * W, "img_size": 32, "stages": 3, "spatial_channels": C},
            "predictor": {"kind": "conv", "action_dim": A, "hidden_dim": 8, "history": history},
        }
    ).eval()


def test_rollouts_start_from_the_last_state_and_action():
    model = looking_back_model()
    g = torch.Generator().manual_seed(0)
    last, now = torch.randn(2, C * H * W, generator=g)
    action, plans = torch.randn(A, generator=g), torch.randn(5, 3, A, generator=g)
    rollouts = AfterLastStep(model)
    rollouts.remember(last, action)
    got = rollouts.unroll(now.expand(5, -1), plans)
    for n in range(5):  # one candidate at a time, from the explicit context
        want = model.unroll(torch.stack([last, now])[None], torch.cat([action[None], plans[n]])[None])[0]
        torch.testing.assert_close(got[n], want)
    # the last step matters: from rest, the same plans are foreseen otherwise
    rollouts.forget()
    at_rest = rollouts.unroll(now.expand(5, -1), plans)
    torch.testing.assert_close(at_rest, model.unroll(now.expand(5, -1), plans))
    assert (at_rest - got).abs().max() > 1e-3


def test_the_agent_remembers_each_step_and_forgets_it_at_a_new_episode():
    model = looking_back_model()
    task = TaskSpec.from_yaml("configs/tasks/swm_pusht.yaml").replace(
        planner={"name": "cem", "horizon": 3, "population": 16, "elites": 4, "iterations": 2}
    )
    agent = Agent(model, Configurator(task, model.encoder.embed_dim, [-1.0] * A, [1.0] * A), seed=0)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    agent.reset(frames[0])
    assert agent.last_step is not None and agent.last_step.last is None
    decision = agent.act(frames[1])
    state, action = agent.last_step.last
    torch.testing.assert_close(state, agent.perceive(frames[1]))
    np.testing.assert_array_equal(action.numpy(), decision.action)
    agent.reset(frames[2])
    assert agent.last_step.last is None
    # a Markov predictor is planned from the present state alone
    markov = looking_back_model(history=1)
    assert Agent(markov, Configurator(task, markov.encoder.embed_dim, [-1.0] * A, [1.0] * A)).last_step is None


def test_sampled_latents_from_the_present_alone_are_refused_for_a_predictor_that_looks_back():
    model = looking_back_model()
    task = TaskSpec.from_yaml("configs/tasks/swm_pusht.yaml").replace(uncertainty={"samples": 2, "risk": 0})
    with pytest.raises(ValueError, match=r"predictor\.history"):
        Agent(model, Configurator(task, model.encoder.embed_dim, [-1.0] * A, [1.0] * A))
