#!/usr/bin/env bash
# The main job end to end on the small built-in default (configs/demo.yaml): see README.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
exec hjepa demo --config "${1:-configs/demo.yaml}" --out "${2:-runs/demo}"
