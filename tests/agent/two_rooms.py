"""The TwoRooms setting that the agent tests share: the action box, the region of configs/tasks/reach_avoid.yaml,
and an agent on the oracle world model for a task of configs/tasks/."""

import numpy as np

from hjepa.agent.agent import Agent
from hjepa.agent.configurator import Configurator
from hjepa.agent.experience import Experience
from hjepa.agent.task import TaskSpec
from tests.agent.oracle import OracleWorldModel

BOX = ([-0.05, -0.05], [0.05, 0.05])
CENTRE = np.array([0.25, 0.5])  # the region of configs/tasks/reach_avoid.yaml
RADIUS = 0.15


def oracle_agent(task: str, experience: Experience, **changes) -> Agent:
    """A Mode-2 agent on the oracle for configs/tasks/<task>.yaml, with some fields changed."""
    spec = TaskSpec.from_yaml(f"configs/tasks/{task}.yaml")
    spec = spec.replace(**changes) if changes else spec
    return Agent(OracleWorldModel(), Configurator(spec, 2, *BOX, experience), seed=0)


def min_distance_to_region(positions: np.ndarray) -> float:
    """The closest that positions (T, 2) come to the region's centre."""
    return float(np.linalg.norm(positions - CENTRE, axis=1).min())
