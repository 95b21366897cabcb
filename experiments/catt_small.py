"""CATT small: the quickstart model with jointly trained attention biasing.

  python -m launch.train --config=experiments/catt_small.py --workdir=workdirs/catt_small

The small transducer plus a BLSTM phrase encoder and 4-head biasing attention
from encoder frames and prediction-network outputs (Chang et al. 2021).
Hardware: 2 CPU cores, 30 minutes (train.max_minutes).
"""

from experiments import small


def get_config():
  c = small.get_config()
  c.model.biasing.enabled = True
  return c
