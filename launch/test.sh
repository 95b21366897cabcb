#!/usr/bin/env bash
# Installs everything, then runs the test suite (about 18-20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
. .venv/bin/activate
python -m pytest -q "$@"
