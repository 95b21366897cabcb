#!/usr/bin/env bash
# The quickstart: install, build the small corpus (~10 min on 2 cores), train
# the small transducer (30 min), then train it jointly with attention biasing
# (CATT, 20 min, warm-started from the small model), evaluate on the test
# splits with no biasing, shallow fusion, attention biasing and both, transcribe
# a sample with its user's list, write an attention map and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
. .venv/bin/activate
DATA=${DATA:-data}
WORKDIR=${WORKDIR:-workdirs/small}
CATT_WORKDIR=${CATT_WORKDIR:-workdirs/catt_small}
python -m launch.prepare_data --config=small --output_dir="$DATA" --vocab_sizes=256
python -m launch.train --config=experiments/small.py --workdir="$WORKDIR" --config.data.data_dir="$DATA"
python -m launch.train --config=experiments/catt_small.py --workdir="$CATT_WORKDIR" \
  --config.data.data_dir="$DATA" --config.train.init_from="$WORKDIR"
python -m launch.report --workdir="$CATT_WORKDIR" --data_dir="$DATA"
echo "Attention map: $CATT_WORKDIR/attention_map.png"
