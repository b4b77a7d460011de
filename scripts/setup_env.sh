#!/usr/bin/env bash
# Create .venv if missing and install hjepa into it with the pinned versions of constraints.txt.
# Sourced by demo.sh and test.sh; re-running is cheap when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
STAMP="$ROOT/.venv/.hjepa-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "installing hjepa and its dependencies into .venv (first run: a few minutes)"
  LOG="$ROOT/.venv/install.log"
  if ! "$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/constraints.txt" -e "$ROOT[test,tensorboard,envs,swm]" >"$LOG" 2>&1; then
    grep -v "is ignored: it is neither" "$LOG" >&2
    echo "error: installing into .venv failed (full log: $LOG)" >&2
    exit 1
  fi
  "$ROOT/.venv/bin/python" -c "import hjepa, torch, lightning, webdataset, av" 
  echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export WANDB_MODE="${WANDB_MODE:-offline}"
