"""Small: the CPU quickstart model, trained on the ``small`` corpus.

  python -m launch.prepare_data --config=small --output_dir=data
  python -m launch.train --config=experiments/small.py --workdir=workdirs/small

Hardware: 2 CPU cores, at most 30 minutes of training (train.max_minutes).
"""

from experiments import default


def get_config():
  c = default.get_config()
  c.data.corpus = "small"
  # The x4 subsampling convolutions dominate CPU time at 64 channels; 32
  # channels train 40% more utterances per second (~42 vs ~30 on 2 cores).
  c.model.encoder.subsample_channels = 32
  c.train.num_steps = 3300
  c.train.max_minutes = 30.0
  return c
