"""`import hjepa` registers the gymnasium ids, whichever of hjepa and gymnasium a fresh interpreter imports first."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hjepa

MAKE = "env = gymnasium.make('hjepa/TwoRooms-v0'); env.reset(seed=0); print(env.spec.id)"


def run(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (the test's own has imported hjepa.envs long ago), importing this hjepa."""
    env = {**os.environ, "PYTHONPATH": str(Path(hjepa.__file__).parents[1])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("imports", ["import hjepa; import gymnasium", "import gymnasium; import hjepa"])
def test_gymnasium_make_works_after_import_hjepa(imports):
    result = run(f"{imports}; {MAKE}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["hjepa/TwoRooms-v0"]


def test_import_hjepa_imports_neither_gymnasium_nor_the_worlds():
    result = run("import sys, hjepa; print([m for m in ('gymnasium', 'numpy', 'hjepa.envs') if m in sys.modules])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
