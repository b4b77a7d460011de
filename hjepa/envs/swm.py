"""stable-worldmodel's TwoRoom through `PixelAdapter`: the navigation task on which stable-worldmodel compares
DINO-WM, PLDM and LeWM, as hjepa data and as a planning target (seed paper sec. 3.1.4).

An optional extra (`pip install 'hjepa[swm]'`, stable-worldmodel 0.1.1): this module imports `stable_worldmodel`
only when an environment is built, and `hjepa.registration` registers hjepa/SwmTwoRoom-v1 only where it is
installed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hjepa.envs.adapter import PixelAdapter
from hjepa.registration import SWM_TWOROOM_ID, missing_extra

MISSING_EXTRA = missing_extra(SWM_TWOROOM_ID)
SWM_ID = "swm/TwoRoom-v1"
EXPERT_NOISE = 2.0  # std of the noise on the expert's unit-length actions in stable-worldmodel's TwoRoom data
SUCCESS_PIXELS = 16.0  # the environment terminates when the agent comes this close to the target (224 px arena)


def _import_swm() -> None:
    """Import stable_worldmodel, which registers its gymnasium ids; its warning that ALE's Atari games are
    missing is silenced (hjepa uses none of them)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="ale-py not found")
            import stable_worldmodel  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{MISSING_EXTRA} (importing stable_worldmodel failed: {error})") from error


class TwoRoomEnv(PixelAdapter):
    """stable-worldmodel's `swm/TwoRoom-v1`: a dot in a 224 x 224 arena split by a wall with a door, rendered with
    torch, observed at `image_size`.

    `info["state"]` is the agent's position (2,) in pixels of the arena (stable-worldmodel's `proprio`),
    `info["goal_state"]` the target's, `info["goal_image"]` the arena with the agent drawn at the target (what a
    frame of the goal state shows). An action (2,) in [-1, 1] moves the agent by its speed (5 px) per unit; an
    episode terminates when the agent comes within 16 px of the target (stable-worldmodel's success).
    `reset(options={"start": xy, "goal": xy})` places both. `expert_action()` is stable-worldmodel's
    `ExpertPolicy` (through the nearest door, then to the target) with Gaussian noise of std `expert_noise` added
    before clipping, as in its recorded data.
    """

    goal_reaching = True  # planners may run here (see `hjepa.envs.gym_ids.goal_reaching`)
    state_names = ("agent_x", "agent_y")

    def __init__(
        self, image_size: int = 64, expert_noise: float = EXPERT_NOISE, render_mode: str | None = "rgb_array"
    ) -> None:
        if expert_noise < 0:
            raise ValueError(f"expert_noise: expected a standard deviation >= 0, got {expert_noise}")
        _import_swm()
        from stable_worldmodel.envs.two_room.expert_policy import ExpertPolicy

        super().__init__(
            SWM_ID,
            image_size,
            state_key="proprio",
            goal_image="_target_img",
            reset_options={"start": "state", "goal": "target_state"},
            render_mode=render_mode,
        )
        self.expert = ExpertPolicy(action_noise=expert_noise)
        self.expert.set_env(self.env)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset as `PixelAdapter.reset`; the expert's noise is seeded with the episode."""
        if seed is not None:
            self.expert.set_seed(seed)
        return super().reset(seed=seed, options=options)

    def expert_action(self) -> np.ndarray:
        """The data-collection expert's action (2,) float32 from the current state toward the target."""
        return self.expert.get_action(self.raw_info)
