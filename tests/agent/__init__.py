"""Tests for hjepa.agent."""
