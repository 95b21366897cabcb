"""``small_ft`` fine-tuned once more: the fair anchor of the branching runs
that start from ``small_ft``.

  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft
  python -m launch.train --config=experiments/small_ft2.py --workdir=workdirs/small_ft2
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp \\
      --reference=workdirs/small_ft2 --thresholds=0.1,0.2,0.3

``branching_small_frc`` / ``frv`` / ``frvp`` warm-start from ``small_ft`` and
fine-tune 1,500 more steps on whole streams (``data.train_trailing_s = 5``):
against ``small_ft`` itself they would be credited with those steps. This is
the same second stage without the routed stage: same start, steps, learning
rate, warm-up and training requests.

Measured (2026-12-05, 2 CPU cores, 12 min): greedy validation 36.5 %
(``small_ft``: 37.5 %), test beam 4 39.9 % (``small_ft``: 41.7 %).
"""

from experiments import small_ft_ws


def get_config():
  c = small_ft_ws.get_config()  # small_ft on whole streams, as the branching runs
  c.train.init_from = "workdirs/small_ft"  # the branching runs' start
  return c
