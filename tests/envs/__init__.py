"""Tests of hjepa.envs."""
