"""stable-worldmodel's TwoRoom and PushT through `PixelAdapter`: the tasks on which stable-worldmodel compares
DINO-WM, PLDM and LeWM, as hjepa data and as planning targets (seed paper sec. 3.1.4).

An optional extra (`pip install 'hjepa[swm]'`, stable-worldmodel 0.1.1): this module imports `stable_worldmodel`
only when an environment is built, and `hjepa.registration` registers hjepa/SwmTwoRoom-v1 and hjepa/SwmPushT-v1
only where it is installed.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from hjepa.envs.adapter import PixelAdapter
from hjepa.registration import SWM_PUSHT_ID, SWM_TWOROOM_ID, missing_extra

SWM_ID = "swm/TwoRoom-v1"
SWM_PUSHT = "swm/PushT-v1"
EXPERT_NOISE = 2.0  # std of the noise on the expert's unit-length actions in stable-worldmodel's TwoRoom data
SUCCESS_PIXELS = 16.0  # the environment terminates when the agent comes this close to the target (224 px arena)
PUSHT_PIXELS, PUSHT_ANGLE = 20.0, np.pi / 9  # PushT's success: agent and block within 20 px, the angle within 20 deg
WEAK_BOX = 100.0  # PushT's data policy keeps the agent's targets within this many pixels of the block (per axis)


def _import_swm(env_id: str = SWM_TWOROOM_ID) -> None:
    """Import stable_worldmodel, which registers its gymnasium ids; its warning that ALE's Atari games are
    missing is silenced (hjepa uses none of them)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="ale-py not found")
            import stable_worldmodel  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{missing_extra(env_id)} (importing stable_worldmodel failed: {error})") from error


def _pymunk_on_collision() -> None:
    """Give pymunk 6's `Space` the `on_collision(a, b, post_solve=...)` of pymunk 7, which stable-worldmodel's
    PushT calls: gym-pusht (the `envs` extra) needs pymunk < 7, and both extras install side by side. The callback
    is pymunk 6's post-solve handler, same arguments (arbiter, space, data); a pymunk that has the method is left
    alone."""
    import pymunk

    if hasattr(pymunk.Space, "on_collision"):
        return

    def on_collision(space: pymunk.Space, collision_type_a: int, collision_type_b: int, *, post_solve: Any) -> None:
        space.add_collision_handler(collision_type_a, collision_type_b).post_solve = post_solve

    pymunk.Space.on_collision = on_collision


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
    arena, path_coords = 224.0, (0, 1)  # a path in figures: the agent's position, pixels of the arena

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

    @staticmethod
    def within(goal: np.ndarray, state: np.ndarray, scale: float = 1.0) -> bool:
        """Whether `state` meets the environment's success rule for `goal` with its tolerance times `scale` (1: the
        rule itself, the agent within 16 px of the target): how close an actor came, beyond succeeding or not."""
        return bool(np.linalg.norm(np.asarray(state[:2]) - np.asarray(goal[:2])) < SUCCESS_PIXELS * scale)


class SwmPushTEnv(PixelAdapter):
    """stable-worldmodel's `swm/PushT-v1`: a round agent pushes a T-shaped block in a 512 x 512 arena (pymunk
    physics, rendered at 224 px), observed at `image_size`.

    `info["state"]` (7,) is stable-worldmodel's state: agent x, y, block x, y (pixels), block angle (radians, in
    [0, 2 pi)), agent velocity x, y; `info["goal_state"]` the goal's, `info["goal_image"]` the arena rendered at
    the goal state. An action (2,) in [-1, 1] sets the agent's target 100 px per unit away from where it is (a PD
    controller follows it). The episode terminates when agent and block positions together lie within 20 px of
    the goal's (the norm over the four coordinates) and the block's angle within pi/9: stable-worldmodel's success.
    `reset(options={"start": state, "goal": state})` places both. `exploration_action()` is stable-worldmodel's
    data policy for PushT (its `WeakPolicy`).
    """

    goal_reaching = True  # planners may run here (see `hjepa.envs.gym_ids.goal_reaching`)
    state_names = ("agent_x", "agent_y", "block_x", "block_y", "block_angle", "agent_vx", "agent_vy")
    arena, path_coords = 512.0, (2, 3)  # a path in figures: the block's position, pixels of the arena

    def __init__(self, image_size: int = 64, render_mode: str | None = "rgb_array") -> None:
        _import_swm(SWM_PUSHT_ID)
        _pymunk_on_collision()
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws the frames, headless
        super().__init__(
            SWM_PUSHT,
            image_size,
            state_key="state",
            goal_image="_goal",
            reset_options={"start": "state", "goal": "goal_state"},
            render_mode=render_mode,
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset as `PixelAdapter.reset`, without the warnings that stable-worldmodel's own check of its variation
        space raises on every reset (it passes Python floats to `Box.contains`)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Casting input x to numpy array")
            return super().reset(seed=seed, options=options)

    @staticmethod
    def within(goal: np.ndarray, state: np.ndarray, scale: float = 1.0) -> bool:
        """Whether `state` meets the environment's success rule for `goal` with its tolerances times `scale` (1: the
        rule itself): how close an actor came, beyond succeeding or not."""
        goal, state = np.asarray(goal, np.float64), np.asarray(state, np.float64)
        turn = abs(goal[4] - state[4]) % (2 * np.pi)
        return bool(
            np.linalg.norm(goal[:4] - state[:4]) < PUSHT_PIXELS * scale
            and min(turn, 2 * np.pi - turn) < PUSHT_ANGLE * scale
        )

    def exploration_action(self) -> np.ndarray:
        """stable-worldmodel's `WeakPolicy` for one environment (its own takes vector environments only): a target
        drawn uniformly within one action's reach of the agent, clipped to `WEAK_BOX` around the block so that the
        block gets pushed; as an action (2,) float32 in [-1, 1]. Draws from `np_random`."""
        sim = self.env.unwrapped
        agent, block = np.asarray(sim.agent.position), np.asarray(sim.block.position)
        target = agent + self.np_random.uniform(-1.0, 1.0, 2) * sim.action_scale
        target = np.clip(target, block - WEAK_BOX, block + WEAK_BOX)
        return np.clip((target - agent) / sim.action_scale, -1.0, 1.0).astype(np.float32)
