"""Probe class targets: rooms from positions through the world's layout, integer per-episode labels."""

import json

import torch

from hjepa.envs import TwoRooms
from hjepa.eval.targets import class_targets, shard_world, state_names


def test_rooms_from_positions_and_scalar_integer_labels_only():
    states = torch.tensor([[[0.2, 0.5], [0.8, 0.5]], [[0.6, 0.1], [0.4, 0.9]]])  # (N=2, T=2, 2)
    labels = {"branch": torch.tensor([1, 0]), "speed": torch.tensor([0.5, 0.1]), "shape_class": torch.ones(2, 3).long()}
    classes = class_targets(TwoRooms(), states, labels)
    assert sorted(classes) == ["branch", "room"]
    assert classes["room"].tolist() == [[0, 1], [1, 0]]
    assert classes["branch"].tolist() == [[1, 1], [0, 0]]
    assert class_targets(None, states, {}) == {}


def test_shard_world_reads_generate_json(tmp_path):
    assert shard_world(tmp_path) is None
    settings = {"world": "two_rooms", "image_size": 32, "world_kwargs": {"door_width": 0.3}}
    (tmp_path / "generate.json").write_text(json.dumps(settings))
    world = shard_world(tmp_path)
    assert isinstance(world, TwoRooms) and world.door_width == 0.3 and world.image_size == 32
    assert state_names(world, 2) == ["x", "y"] and state_names(None, 3) == ["dim0", "dim1", "dim2"]
