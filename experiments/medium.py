"""Medium: a larger CPU model on the ``full`` corpus for a few hours.

  python -m launch.prepare_data --config=full --output_dir=data
  python -m launch.train --config=experiments/medium.py --workdir=workdirs/medium

Hardware: 2 CPU cores, about 3 hours (train.max_minutes = 180).
"""

from experiments import small


def get_config():
  c = small.get_config()
  c.data.corpus = "full"
  c.model.encoder.num_layers = 8
  c.model.encoder.dim = 176
  c.train.num_steps = 20000
  c.train.warmup_steps = 1000
  c.train.max_minutes = 180.0
  c.train.eval_every = 2000
  return c
