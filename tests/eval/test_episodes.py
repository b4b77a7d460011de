"""Episodes run several at a time take the decisions they take alone, with fewer world-model calls."""

import threading
import time

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.batching import BatchedRollouts
from hjepa.agent.configurator import Configurator
from hjepa.agent.task import TaskSpec
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.envs import make_world
from hjepa.eval.episodes import (
    action_block,
    agent_actor,
    agents,
    block_action_box,
    blocked_actor,
    random_actors,
    run_episodes,
    task_env,
    world_options,
)
from tests.agent.oracle import WallOracleWorldModel


class CountingModel(WallOracleWorldModel):
    """The perfect rooms model, counting its `unroll` calls and the candidates they priced."""

    def __init__(self) -> None:
        super().__init__(make_world("two_rooms"))
        self.calls, self.rows = 0, 0

    def unroll(self, s0, actions):
        self.calls, self.rows = self.calls + 1, self.rows + len(s0)
        return super().unroll(s0, actions)


@pytest.mark.parametrize("parallel", [2, 3])
def test_parallel_episodes_match_sequential_ones(parallel):
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        max_steps=25, planner={"name": "cem", "horizon": 8, "population": 64, "elites": 8, "iterations": 3}
    )
    seeds = [1000, 1001, 1002, 1003]
    outcomes, models = {}, {}
    for workers in (1, parallel):
        model = models[workers] = CountingModel()
        env = task_env("hjepa/TwoRooms-v0", task.max_steps)
        low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
        configurator = Configurator(task, model.encoder.embed_dim, low, high)
        make = agents(lambda seed: Agent(model, configurator, seed=seed))
        outcomes[workers] = run_episodes(lambda: task_env("hjepa/TwoRooms-v0", task.max_steps), make, seeds, workers)
    for alone, together in zip(outcomes[1], outcomes[parallel]):
        assert alone.success == together.success and alone.steps == together.steps
        np.testing.assert_array_equal(alone.positions, together.positions)
    assert sum(r.success for r in outcomes[1]) >= 2  # the episodes compared are ones where the planner acts well
    assert models[1].rows == models[parallel].rows  # the same candidates were priced ...
    assert models[parallel].calls < 0.75 * models[1].calls  # ... in fewer, larger calls


def test_random_actors_do_not_depend_on_the_number_of_parallel_episodes():
    def run(workers):
        return run_episodes(lambda: task_env("hjepa/TwoRooms-v0", 15), random_actors, [3, 4, 5], workers)

    for alone, together in zip(run(1), run(3)):
        np.testing.assert_array_equal(alone.positions, together.positions)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_progress_bar_counts_the_finished_episodes(workers, capsys):
    run_episodes(lambda: task_env("hjepa/TwoRooms-v0", 5), random_actors, [3, 4, 5], workers, progress="random")
    err = capsys.readouterr().err
    assert "random" in err and "3/3" in err, err
    run_episodes(lambda: task_env("hjepa/TwoRooms-v0", 5), random_actors, [3, 4, 5], workers)
    assert capsys.readouterr().err == ""


def test_batched_rollouts_price_the_calls_of_every_counted_thread_in_one_call_however_late_they_ask():
    model, batch = CountingModel(), BatchedRollouts(acting=3)
    generator = torch.Generator().manual_seed(0)
    starts = [torch.rand(n, 2, generator=generator) * 0.3 + 0.1 for n in (5, 7, 3)]
    plans = [torch.randn(n, 6, 2, generator=generator) * 0.05 for n in (5, 7, 3)]
    results = [None] * 3

    def ask(i):
        time.sleep(0.05 * i)  # the last thread starts well after the first has asked
        try:
            with torch.no_grad():
                results[i] = batch.wrap(model).unroll(starts[i], plans[i])
        finally:
            batch.leave()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.calls == 1 and batch.calls == 1 and model.rows == 15
    for s0, plan, states in zip(starts, plans, results):
        torch.testing.assert_close(states, WallOracleWorldModel(make_world("two_rooms")).unroll(s0, plan))


def test_a_failing_batch_raises_in_every_caller_and_gradients_bypass_the_batch():
    class Broken(CountingModel):
        def unroll(self, s0, actions):
            raise RuntimeError("model failed")

    batch = BatchedRollouts()
    with torch.no_grad(), pytest.raises(RuntimeError, match="model failed"):
        batch.wrap(Broken()).unroll(torch.zeros(2, 2), torch.zeros(2, 3, 2))

    class Linear(torch.nn.Module):
        def unroll(self, s0, actions):
            return s0[:, None] + actions.cumsum(1)

    actions = torch.zeros(2, 3, 2, requires_grad=True)
    batch.wrap(Linear()).unroll(torch.zeros(2, 2), actions).sum().backward()  # a gradient planner's call
    assert actions.grad is not None and batch.calls == 0


def test_parallel_must_be_positive():
    with pytest.raises(ValueError, match="--parallel"):
        run_episodes(lambda: task_env("hjepa/TwoRooms-v0", 5), random_actors, [0], 0)


@pytest.mark.parametrize("parallel", [1, 2])
def test_each_episode_resets_with_its_own_options(parallel):
    starts = [[0.2, 0.3], [0.8, 0.7], [0.3, 0.8]]
    options = [{"start": start, "goal": [0.75, 0.25]} for start in starts]
    results = run_episodes(
        lambda: task_env("hjepa/TwoRooms-v0", 3), random_actors, [0, 1, 2], parallel, options=options
    )
    np.testing.assert_allclose([r.positions[0] for r in results], starts, atol=1e-6)
    with pytest.raises(ValueError, match="options: one per episode, got 1 for 3 seeds"):
        run_episodes(lambda: task_env("hjepa/TwoRooms-v0", 3), random_actors, [0, 1, 2], options=options[:1])


def test_shards_recorded_in_an_environment_set_its_image_size(tmp_path):
    generate_shards(
        GenerateSettings("hjepa/TwoRooms-v0", episodes=1, frames=3, image_size=32), tmp_path, progress=False
    )
    assert world_options(tmp_path, "hjepa/TwoRooms-v0") == {"image_size": 32}
    assert task_env("hjepa/TwoRooms-v0", 3, tmp_path).observation_space.shape == (32, 32, 3)
    assert world_options(tmp_path, "hjepa/Maze-v0") == {}  # recorded in another world


class BlockWallOracle(WallOracleWorldModel):
    """The perfect rooms model of a world seen every `block` steps: one action is `block` moves concatenated, as a
    model trained with `data.frame_stride` = block takes them."""

    def __init__(self, block: int) -> None:
        super().__init__(make_world("two_rooms"))
        self.block = block

    def unroll(self, s0, actions):
        batch, steps, _ = actions.shape
        every_move = super().unroll(s0, actions.reshape(batch, steps * self.block, 2))
        return every_move[:, self.block - 1 :: self.block]


def test_a_blocked_actor_decides_every_block_steps_and_sends_its_pieces_in_order():
    seen, plans = [], []

    def decide(observation):
        seen.append(observation)
        plans.append(np.random.default_rng(len(plans)).uniform(-0.05, 0.05, 6).astype(np.float32))
        return plans[-1], 7.0

    env = task_env("hjepa/TwoRooms-v0", 7)
    act = blocked_actor(decide, 3, env.action_space.shape)
    observation, _ = env.reset(seed=0)
    observations, sent, ms = [observation], [], []
    for _ in range(7):
        action, spent = act(observations[-1])
        sent.append(action)
        ms.append(spent)
        observations.append(env.step(action)[0])
    assert len(seen) == 3  # steps 0, 3 and 6
    for decision, step in zip(seen, (0, 3, 6)):
        np.testing.assert_array_equal(decision, observations[step])
    np.testing.assert_array_equal(np.stack(sent[:6]), np.concatenate(plans[:2]).reshape(6, 2))
    np.testing.assert_array_equal(sent[6], plans[2][:2])
    assert ms == [7.0, 0.0, 0.0, 7.0, 0.0, 0.0, 7.0]


def test_an_agent_plans_blocks_of_moves_with_a_model_of_every_third_frame():
    block = 3
    task = TaskSpec.from_yaml("configs/tasks/reach.yaml").replace(
        max_steps=30, planner={"name": "cem", "horizon": 4, "population": 64, "elites": 8, "iterations": 3}
    )
    env = task_env("hjepa/TwoRooms-v0", task.max_steps)
    model = BlockWallOracle(block)
    assert action_block(2 * block, env.action_space, "model") == block
    configurator = Configurator(task, model.encoder.embed_dim, *block_action_box(env.action_space, block))
    decisions = []

    def blocked(agent):
        def decide(observation):
            decisions.append(observation)
            return agent_actor(agent)(observation)

        return blocked_actor(decide, block, env.action_space.shape)

    make = agents(lambda seed: Agent(model, configurator, seed=seed), blocked)
    seeds = [1000, 1001, 1002, 1003]
    results = run_episodes(lambda: task_env("hjepa/TwoRooms-v0", task.max_steps), make, seeds)
    assert sum(r.success for r in results) >= 3
    assert len(decisions) == sum((r.steps + block - 1) // block for r in results)
    blind = run_episodes(lambda: task_env("hjepa/TwoRooms-v0", task.max_steps), random_actors, seeds)
    assert sum(r.success for r in blind) < sum(r.success for r in results)


def test_a_model_action_that_is_no_whole_number_of_environment_actions_is_refused():
    space = task_env("hjepa/TwoRooms-v0", 3).action_space
    assert action_block(2, space, "--model m") == 1
    for width in (1, 3):
        with pytest.raises(ValueError, match=f"--model m: the world model takes actions of {width} numbers"):
            action_block(width, space, "--model m")
