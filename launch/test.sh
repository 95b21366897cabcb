#!/usr/bin/env bash
# Installs everything, then runs the test suite: two pytest-xdist workers, each
# test file on one worker (module fixtures are built once); about 14.5 minutes on
# 2 cores, set-up included (25 CPU minutes). PYTEST_WORKERS=N changes the worker
# count (0: serial).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
. .venv/bin/activate
python -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
