"""``small_ft`` on whole streams: the 320 ms anchor of the runs that start from
``small`` and fine-tune on whole streams (``branching_small_frvp`` from
``small``, and ``small_ft_c2`` at 160 ms).

  python -m launch.train --config=experiments/small_ft_ws.py \\
      --workdir=workdirs/small_ft_ws

``small_ft`` crops each training request a short while after the end of
speech (``data.train_trailing_s``); the branching runs keep every request
whole, because their router has to learn what the silence after a request
looks like. This is ``small_ft`` with whole requests too, so that a routed
run and its anchor differ only in the routed encoder, and so that
``small_ft_c2`` (the same at 160 ms chunks) measures what the shorter chunk
alone costs.

Measured (2026-12-05, 2 CPU cores, 11.3 min from the quickstart's ``small``):
greedy validation WER 39.0 % (U-WER 26.2 %); test, beam 4: 39.8 %.
"""

from experiments import small_ft


def get_config():
  c = small_ft.get_config()
  c.data.train_trailing_s = 5.0  # whole streams, as the branching runs
  return c
