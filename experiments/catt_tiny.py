"""CATT tiny: the tiny model with attention biasing (tests, smoke runs).

  python -m launch.train --config=experiments/catt_tiny.py --workdir=workdirs/catt_tiny
"""

from experiments import tiny


def get_config():
  c = tiny.get_config()
  b = c.model.biasing
  b.enabled = True
  b.embed_dim = 16
  b.dim = 32
  b.num_heads = 2
  c.data.context.max_distractors = 8
  c.train.bias_guide_weight = 1.0  # as in catt_small
  return c
