#!/usr/bin/env bash
# The quickstart: install, build the mid corpus (24,000 training requests; its
# validation and test splits are the small corpus's; ~22 min on 2 cores), train
# the small transducer on it (30 min), then train it jointly with attention
# biasing (CATT, 20 min, warm-started from the small model), evaluate on the
# test splits with no biasing, shallow fusion, attention biasing and both
# (beam 8, rescored with the model's CTC head: catt_small.py's eval settings),
# transcribe a sample with its user's list, write an attention map and print
# the table. CORPUS=small builds the 8,000-request corpus instead (~10 min;
# 4 points of U-WER worse, BUILD.md "Quickstart results").
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
. .venv/bin/activate
DATA=${DATA:-data}
CORPUS=${CORPUS:-mid}
case "$CORPUS" in
  mid) SMALL_CONFIG=small_mid; CATT_CONFIG=catt_small_mid ;;
  small) SMALL_CONFIG=small; CATT_CONFIG=catt_small ;;
  *) echo "quickstart: CORPUS must be mid or small, got '$CORPUS'" >&2; exit 2 ;;
esac
WORKDIR=${WORKDIR:-workdirs/$SMALL_CONFIG}
CATT_WORKDIR=${CATT_WORKDIR:-workdirs/$CATT_CONFIG}
python -m launch.prepare_data --config="$CORPUS" --output_dir="$DATA" --vocab_sizes=256
python -m launch.train --config="experiments/$SMALL_CONFIG.py" --workdir="$WORKDIR" \
  --config.data.data_dir="$DATA"
python -m launch.train --config="experiments/$CATT_CONFIG.py" --workdir="$CATT_WORKDIR" \
  --config.data.data_dir="$DATA" --config.train.init_from="$WORKDIR"
python -m launch.report --workdir="$CATT_WORKDIR" --data_dir="$DATA"
echo "Attention map: $CATT_WORKDIR/attention_map.png"
