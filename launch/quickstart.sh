#!/usr/bin/env bash
# The quickstart: install, build the small corpus (~8 min on 2 cores), train
# the small model (30 min), evaluate on the test splits with and without
# biasing, transcribe a sample and print a table of the results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
. .venv/bin/activate
DATA=${DATA:-data}
WORKDIR=${WORKDIR:-workdirs/small}
python -m launch.prepare_data --config=small --output_dir="$DATA" --vocab_sizes=256
python -m launch.train --config=experiments/small.py --workdir="$WORKDIR" --config.data.data_dir="$DATA"
python -m launch.report --workdir="$WORKDIR" --data_dir="$DATA"
