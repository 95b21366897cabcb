"""Branching tiny: the tiny model with a routed stage (tests, smoke runs).

  python -m launch.train --config=experiments/branching_tiny.py --workdir=workdirs/branching_tiny

1-block trunk, 2-block chunk-local expensive branch, rank-8 cheap branch.
"""

from experiments import tiny


def get_config():
  c = tiny.get_config()
  e = c.model.encoder
  e.num_layers = 1
  br = e.branching
  br.enabled = True
  br.expensive_layers = 2
  br.cheap_rank = 8
  br.router_hidden = 16
  br.cost_weight = 1.0
  return c
