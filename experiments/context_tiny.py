"""Stream context tiny: the tiny model with wake-word context (tests, smoke runs).

  python -m launch.train --config=experiments/context_tiny.py --workdir=workdirs/context_tiny
"""

from experiments import tiny


def get_config():
  c = tiny.get_config()
  c.data.stream_context.enabled = True
  c.data.stream_context.max_seconds = 1.0
  return c
