#!/usr/bin/env bash
# Install (as demo.sh does), lint and format-check with ruff, check the package's import layers (pyproject.toml)
# and run the test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
ruff check .
ruff format --check .
lint-imports --no-cache
exec python -m pytest -q "$@"
