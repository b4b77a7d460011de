"""Task specifications: validation names the bad field."""

from pathlib import Path

import pytest

from hjepa.agent.task import TaskSpec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cost": {"speed": 1.0}}, "cost.speed: unknown cost"),
        ({"planner": {"name": "rrt", "horizon": 4}}, "planner.name: unknown planner"),
        ({"planner": {"name": "cem"}}, "planner.horizon"),
        ({"cost": {"goal_distance": 1.0, "region_avoidance": 1.0}, "region": None}, "has no region"),
        ({"goal_metric": "pixels"}, "goal_metric: unknown metric"),
        ({"subgoals": {"kind": "oracle"}}, "subgoals.kind"),
        ({"mode": "mode3"}, "mode: unknown mode"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"goal_exponent": 0}, "goal_exponent: expected a positive number"),
        ({"goal_terminal": -1}, "goal_terminal: expected a number of steps >= 0"),
        ({"planner": {"name": "cem", "horizon": 4, "population": "many"}}, r"planner\.population: expected int"),
        ({"planner": {"name": "mppi", "horizon": 4, "temperature": True}}, r"planner\.temperature: expected float"),
        ({"planner": {"name": "cem", "horizon": 4, "populaton": 8}}, r"planner\.populaton: unknown field"),
        ({"hold": "yes"}, "hold: expected true or false"),
        ({"drift_correction": 1}, "drift_correction: expected true or false"),
        ({"hold": True, "subgoals": {"kind": "landmarks"}}, "hold: .* needs levels \\[1\\] and subgoals.kind none"),
        ({"drift_correction": True, "uncertainty": {"samples": 2, "risk": 1.0}}, "drift_correction: with uncertainty"),
        ({"replan_every": 0}, "replan_every: expected a positive integer"),
        ({"replan_every": 2.0}, "replan_every: expected a positive integer"),
        ({"replan_every": 7}, "replan_every: 7 actions of a plan of planner.horizon 6"),
        (
            {"replan_every": 2, "hold": True, "subgoals": {"kind": "none"}},
            "hold: .* replan_every 2 takes planned actions unseen",
        ),
    ],
)
def test_bad_task_specs_name_the_field(change, message):
    data = TaskSpec.from_yaml("configs/tasks/reach_avoid.yaml").as_dict()
    with pytest.raises(ValueError, match=message):
        TaskSpec.from_dict({**data, **change})


def test_critic_weight_is_zero_unless_asked_and_refuses_negatives():
    for path in sorted(Path("configs/tasks").glob("*.yaml")):
        assert TaskSpec.from_yaml(path).critic_weight == 0.0, path  # every shipped task plans on IC alone
    data = TaskSpec.from_yaml("configs/tasks/reach.yaml").as_dict()
    assert TaskSpec.from_dict({**data, "critic_weight": 2}).critic_weight == 2.0
    for bad in (-0.5, True, "high", None):
        with pytest.raises(ValueError, match="critic_weight: expected a number >= 0"):
            TaskSpec.from_dict({**data, "critic_weight": bad})
