#!/usr/bin/env bash
# Install (as demo.sh does) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
exec python -m pytest -q "$@"
