"""Episodes run several at a time take the decisions they take alone, with fewer world-model calls."""

import threading

import numpy as np
import pytest
import torch

from hjepa.agent.agent import Agent
from hjepa.agent.batching import BatchedRollouts
from hjepa.agent.configurator import Configurator
from hjepa.agent.task import TaskSpec
from hjepa.data.generate import GenerateSettings, generate_shards
from hjepa.envs import make_world
from hjepa.eval.episodes import agents, random_actors, run_episodes, task_env, world_options
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


def test_batched_rollouts_price_concurrent_calls_in_one_call_with_the_same_results():
    model, batch = CountingModel(), BatchedRollouts()
    generator = torch.Generator().manual_seed(0)
    starts = [torch.rand(n, 2, generator=generator) * 0.3 + 0.1 for n in (5, 7, 3)]
    plans = [torch.randn(n, 6, 2, generator=generator) * 0.05 for n in (5, 7, 3)]
    entered, results = threading.Barrier(3), [None] * 3

    def ask(i):
        with batch.acting():
            entered.wait()  # all three are acting before any asks, so none is priced alone
            with torch.no_grad():
                results[i] = batch.wrap(model).unroll(starts[i], plans[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.calls == 1 and batch.calls == 1
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
