"""Mode-2 planners (seed paper sec. 3.1.2, 3.1.4): model-predictive control behind one `Planner` interface."""

import inspect
from typing import Any

from hjepa.agent.planners.base import Cost, Planner, PlanResult, RolloutModel, Rollouts, shift_plan
from hjepa.agent.planners.cem import CEMPlanner
from hjepa.agent.planners.discrete import DiscreteSearchPlanner
from hjepa.agent.planners.gradient import GradientPlanner
from hjepa.agent.planners.mppi import MPPIPlanner

PLANNERS: dict[str, type[Planner]] = {
    "gradient": GradientPlanner,
    "cem": CEMPlanner,
    "mppi": MPPIPlanner,
    "discrete": DiscreteSearchPlanner,
}


def build_planner(name: str, **fields: Any) -> Planner:
    """Planner from plain data, e.g. build_planner("cem", action_low=-1, action_high=1, horizon=16, population=256).

    Unknown planner, unknown field or missing field -> ValueError naming it.
    """
    if name not in PLANNERS:
        raise ValueError(f"planner.name: unknown planner {name!r}; choose one of {sorted(PLANNERS)}")
    params = inspect.signature(PLANNERS[name]).parameters
    for field in fields:
        if field not in params:
            raise ValueError(f"planner.{field}: unknown field for planner {name!r}; expected one of {list(params)}")
    for field, param in params.items():
        if param.default is inspect.Parameter.empty and field not in fields:
            raise ValueError(f"planner.{field}: missing, planner {name!r} needs it")
    return PLANNERS[name](**fields)


__all__ = [
    "PLANNERS",
    "CEMPlanner",
    "Cost",
    "DiscreteSearchPlanner",
    "GradientPlanner",
    "MPPIPlanner",
    "PlanResult",
    "Planner",
    "RolloutModel",
    "Rollouts",
    "build_planner",
    "shift_plan",
]
