"""`hjepa generate`: reproducible shards whose decoded frames match the rendered ones."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import webdataset as wds

from hjepa.cli import main
from hjepa.data.generate import GenerateSettings, generate_shards, record_episodes
from hjepa.data.shards import list_shards, load_npy
from hjepa.data.video import decode_video
from hjepa.envs import make_world
from tests.data.synthetic import psnr


def shards_bytes(folder):
    return [p.read_bytes() for p in list_shards(folder)]


def test_same_seed_gives_byte_identical_shards_other_seed_does_not(tmp_path):
    args = ["generate", "--world", "two_rooms", "--episodes", "6", "--frames", "5", "--shard_size", "4"]
    assert main(args + ["--out", str(tmp_path / "a"), "--seed", "3"]) == 0
    assert main(args + ["--out", str(tmp_path / "b"), "--seed", "3", "--workers", "2"]) == 0
    assert main(args + ["--out", str(tmp_path / "c"), "--seed", "4"]) == 0
    assert len(shards_bytes(tmp_path / "a")) == 2
    assert shards_bytes(tmp_path / "a") == shards_bytes(tmp_path / "b")
    assert shards_bytes(tmp_path / "a")[0] != shards_bytes(tmp_path / "c")[0]


@pytest.mark.parametrize("world", ["two_rooms", "moving_shapes", "fork", "maze"])
def test_lossless_frames_equal_the_rendered_frames(world):
    settings = GenerateSettings(world, episodes=3, frames=6, codec="ffv1")
    episodes = record_episodes(settings, 0)
    # replay the shard's episodes: same seed, same policy
    replay, rng = make_world(world), np.random.default_rng([settings.seed, 0])
    replay.reset(3, rng)
    rendered = [replay.render()]
    for _ in range(5):
        replay.step(replay.exploration_actions(rng))
        rendered.append(replay.render())
    rendered = np.stack(rendered, axis=1)  # (N, T, H, W, 3)
    for j, episode in enumerate(episodes):
        frames = decode_video(episode.video, None, "pyav")
        assert frames.shape == (6, 64, 64, 3)
        assert np.array_equal(frames, rendered[j])
        assert episode.actions.shape == (5, replay.action_dim)
        assert episode.meta["num_frames"] == 6 and episode.meta["state_names"] == list(replay.state_names)


def test_random_door_episodes_each_have_their_own_door_and_cross_it():
    settings = GenerateSettings(
        "two_rooms", episodes=16, frames=48, codec="ffv1", world_kwargs=(("random_door", True),)
    )
    episodes = record_episodes(settings, 0)
    doors = [episode.meta["labels"]["door_centre"] for episode in episodes]
    assert len(set(doors)) == 16 and all(0.2 <= door < 0.8 for door in doors)
    crossed = 0
    for episode, door in zip(episodes, doors):
        # the frames are those of a fixed-door world with the episode's door, at the recorded states
        renderer = make_world("two_rooms", door_centre=door)
        assert np.array_equal(decode_video(episode.video, None, "pyav"), renderer.render_states(episode.states))
        rooms = renderer.room_of(episode.states)
        crossed += (rooms[1:] != rooms[:-1]).any()
    assert crossed >= 0.6 * len(episodes)
    assert all(np.array_equal(a.video, b.video) for a, b in zip(episodes, record_episodes(settings, 0)))


def test_random_door_through_the_cli_gives_byte_identical_shards(tmp_path):
    args = [
        "generate",
        "--world",
        "two_rooms",
        "--world_kwargs",
        '{"random_door": true}',
        "--episodes",
        "3",
        "--frames",
        "5",
        "--seed",
        "2",
        "--codec",
        "ffv1",
    ]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert shards_bytes(tmp_path / "a") == shards_bytes(tmp_path / "b")
    written = json.loads((tmp_path / "a" / "generate.json").read_text())
    assert written["world_kwargs"] == {"random_door": True}
    # read back as the settings that wrote them: the same shards again
    settings = GenerateSettings.from_json(written)
    assert settings.world_kwargs == (("random_door", True),) and settings.seed == 2 and settings.codec == "ffv1"
    generate_shards(settings, tmp_path / "c", progress=False)
    assert shards_bytes(tmp_path / "c") == shards_bytes(tmp_path / "a")


def test_h264_frames_are_close_to_the_rendered_states():
    settings = GenerateSettings("two_rooms", episodes=2, frames=8, codec="h264")
    renderer = make_world("two_rooms")
    for episode in record_episodes(settings, 0):
        assert psnr(decode_video(episode.video, None, "decord"), renderer.render_states(episode.states)) > 30


def test_actions_move_the_agent_between_consecutive_states():
    settings = GenerateSettings("two_rooms", episodes=8, frames=20)
    moved = 0
    for episode in record_episodes(settings, 0):
        step = np.diff(episode.states, axis=0)
        free = np.all(np.abs(step - episode.actions) < 1e-5, axis=1)  # no wall contact on that step
        moved += free.sum()
        # a wall can only shorten a move, never lengthen it
        assert np.all(np.abs(step) <= np.abs(episode.actions) + 1e-5)
    assert moved > 0.6 * 8 * 19


def test_interrupted_run_continues_and_other_settings_are_refused(tmp_path):
    settings = GenerateSettings("fork", episodes=9, frames=4, shard_size=3)
    generate_shards(settings, tmp_path, progress=False)
    kept = (tmp_path / "shard-000000.tar").read_bytes()
    (tmp_path / "shard-000002.tar").unlink()
    report = generate_shards(settings, tmp_path, progress=False)
    assert (report.written_shards, report.reused_shards) == (1, 2)
    assert (tmp_path / "shard-000000.tar").read_bytes() == kept
    with pytest.raises(ValueError, match="frames"):
        generate_shards(GenerateSettings("fork", episodes=9, frames=5, shard_size=3), tmp_path, progress=False)
    (tmp_path / "generate.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"generate.json: not readable as JSON .*regenerate the folder"):
        generate_shards(settings, tmp_path, progress=False)
    (tmp_path / "generate.json").unlink()
    with pytest.raises(ValueError, match="holds shards but no generate.json; choose another --out"):
        generate_shards(settings, tmp_path, progress=False)


def test_stored_metadata(tmp_path):
    generate_shards(GenerateSettings("moving_shapes", episodes=2, frames=4), tmp_path, progress=False)
    sample = next(iter(wds.WebDataset(str(tmp_path / "shard-000000.tar"), shardshuffle=False)))
    meta = json.loads(sample["json"])
    assert meta["world"] == "moving_shapes" and meta["fps"] > 0 and meta["size"] == 64
    assert "shape_class" in meta["labels"]
    assert load_npy(sample["actions.npy"], "a").shape == (3, 0)


def test_unknown_world_and_bad_counts_name_the_field(capsys):
    assert main(["generate", "--world", "castle", "--episodes", "1", "--frames", "4", "--out", "/tmp/x"]) == 2
    assert "castle" in capsys.readouterr().err
    with pytest.raises(ValueError, match="frames"):
        GenerateSettings("two_rooms", episodes=1, frames=1)
    with pytest.raises(ValueError, match="codec"):
        GenerateSettings("two_rooms", episodes=1, frames=4, codec="gif")


def test_a_gymnasium_id_is_recorded_through_the_environment():
    settings = GenerateSettings("hjepa/TwoRooms-v0", episodes=3, frames=6, image_size=32, codec="ffv1")
    renderer = make_world("two_rooms", image_size=32)
    episodes = record_episodes(settings, 0)
    for episode in episodes:
        assert episode.key.startswith("hjepa_TwoRooms-v0-s0-e")  # no slash in a WebDataset key
        assert episode.actions.shape == (5, 2) and np.abs(episode.actions).max() <= renderer.max_action
        # frames are the observations of the recorded states, states the environment's info["state"]
        assert np.array_equal(decode_video(episode.video, None, "pyav"), renderer.render_states(episode.states))
        assert episode.meta["world"] == "hjepa/TwoRooms-v0" and episode.meta["world_config"] == {"image_size": 32}
    assert not np.array_equal(episodes[0].states, episodes[1].states)
    assert all(np.array_equal(a.video, b.video) for a, b in zip(episodes, record_episodes(settings, 0)))


def test_policy_acts_in_the_environment_and_each_episode_keeps_its_reset_seed():
    explored, uniform = (
        record_episodes(GenerateSettings("hjepa/TwoRooms-v0", episodes=2, frames=6, policy=policy), 0)
        for policy in ("explore", "random")
    )
    env = gymnasium.make("hjepa/TwoRooms-v0")
    for episode in uniform:  # uniform actions from the box, seeded with the episode's reset seed
        assert episode.meta["policy"] == "random" and episode.meta["terminated_at"] is None
        _, info = env.reset(seed=episode.meta["reset_seed"])
        env.action_space.seed(episode.meta["reset_seed"])
        np.testing.assert_array_equal(info["state"], episode.states[0])
        np.testing.assert_array_equal(episode.actions, [env.action_space.sample() for _ in range(5)])
    # without an exploration policy of its own, the environment is explored with uniform actions
    assert all(
        np.array_equal(e.actions, u.actions) and e.meta["policy"] == "explore" for e, u in zip(explored, uniform)
    )
    with pytest.raises(ValueError, match="policy: two_rooms records under its own exploration policy; --policy random"):
        GenerateSettings("two_rooms", episodes=1, frames=4, policy="random")


def test_the_frame_of_the_first_termination_is_kept():
    # a success radius larger than the world: the environment terminates at the first step, and the episode runs on
    settings = GenerateSettings("hjepa/TwoRooms-v0", episodes=1, frames=5, world_kwargs=(("success_radius", 2.0),))
    (episode,) = record_episodes(settings, 0)
    assert episode.meta["terminated_at"] == 1 and episode.states.shape == (5, 2)


def test_settings_written_before_the_policy_could_be_chosen_are_continued(tmp_path):
    settings = GenerateSettings("fork", episodes=4, frames=4, shard_size=2)
    generate_shards(settings, tmp_path, progress=False)
    (tmp_path / "shard-000001.tar").unlink()
    written = json.loads((tmp_path / "generate.json").read_text())
    del written["policy"]
    (tmp_path / "generate.json").write_text(json.dumps(written))
    assert generate_shards(settings, tmp_path, progress=False).written_shards == 1


def test_unknown_env_id_and_missing_extra_name_the_field_and_the_fix(capsys, monkeypatch):
    args = ["generate", "--episodes", "1", "--frames", "4", "--out", "/tmp/x", "--env"]
    assert main(args + ["hjepa/Castle-v0"]) == 2
    assert "world: 'hjepa/Castle-v0' is not a registered gymnasium id" in capsys.readouterr().err
    monkeypatch.delitem(gymnasium.registry, "hjepa/PushT-v0", raising=False)  # as without the extra
    assert main(args + ["hjepa/PushT-v0"]) == 2
    assert "pip install 'hjepa[envs]'" in capsys.readouterr().err


def children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while listing
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_generate_leaves_no_worker_behind(tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "hjepa.cli",
        "generate",
        "--world",
        "two_rooms",
        "--episodes",
        "500",
        "--frames",
        "4",
        "--shard_size",
        "1",
        "--image_size",
        "32",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(list_shards(out)) < 2:  # the workers are running
            assert process.poll() is None and time.monotonic() < deadline, "generate did not start"
            time.sleep(0.1)
        workers = children_of(process.pid)
        assert len(workers) >= 2  # 2 workers and the resource tracker
        process.kill()
        process.wait()
        deadline = time.monotonic() + 5
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "processes outlived a kill -9 of generate"
    finally:
        process.kill()
        for pid in children_of(process.pid) + [pid for pid in workers if alive(pid)]:  # on failure
            os.kill(pid, signal.SIGKILL)
