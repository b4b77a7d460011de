"""Mode-2 planners (seed paper sec. 3.1.2, 3.1.4): model-predictive control behind one `Planner` interface."""

import inspect
from typing import Any

from hjepa.agent.planners.base import PlanCost, Planner, PlanResult, RolloutModel, Rollouts, shift_plan
from hjepa.agent.planners.cem import CEMPlanner
from hjepa.agent.planners.discrete import DiscreteSearchPlanner
from hjepa.agent.planners.gradient import GradientPlanner
from hjepa.agent.planners.graph import GraphSearchPlanner
from hjepa.agent.planners.mppi import MPPIPlanner
from hjepa.fields import check_field_types

PLANNERS: dict[str, type[Planner]] = {
    "gradient": GradientPlanner,
    "cem": CEMPlanner,
    "mppi": MPPIPlanner,
    "discrete": DiscreteSearchPlanner,
    "graph": GraphSearchPlanner,
}


def check_planner_fields(name: Any, fields: dict[str, Any], source: str = "") -> None:
    """ValueError naming an unknown planner, or a field that planner `name` does not take or whose value has the
    wrong type (e.g. `population: "many"`); `source` (a task file) prefixes the message."""
    prefix = f"{source}: " if source else ""
    if not isinstance(name, str) or name not in PLANNERS:
        raise ValueError(f"{prefix}planner.name: unknown planner {name!r}; choose one of {sorted(PLANNERS)}")
    params = inspect.signature(PLANNERS[name]).parameters
    for field in fields:
        if field not in params:
            raise ValueError(
                f"{prefix}planner.{field}: unknown field for planner {name!r}; expected one of {list(params)}"
            )
    check_field_types(fields, PLANNERS[name], f"{prefix}planner.")


def build_planner(name: str, **fields: Any) -> Planner:
    """Planner from plain data, e.g. build_planner("cem", action_low=-1, action_high=1, horizon=16, population=256).

    Unknown planner, unknown field or missing field -> ValueError naming it.
    """
    check_planner_fields(name, fields)
    params = inspect.signature(PLANNERS[name]).parameters
    for field, param in params.items():
        if param.default is inspect.Parameter.empty and field not in fields:
            raise ValueError(f"planner.{field}: missing, planner {name!r} needs it")
    return PLANNERS[name](**fields)


__all__ = [
    "PLANNERS",
    "CEMPlanner",
    "PlanCost",
    "DiscreteSearchPlanner",
    "GradientPlanner",
    "GraphSearchPlanner",
    "MPPIPlanner",
    "PlanResult",
    "Planner",
    "RolloutModel",
    "Rollouts",
    "build_planner",
    "check_planner_fields",
    "shift_plan",
]
