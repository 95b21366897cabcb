"""``branching_small_frvp_c2h`` trained with more holes than it is run with.

  python -m launch.train --config=experiments/branching_small_frvp_c2h4.py \\
      --workdir=workdirs/branching_small_frvp_c2h4
  python -m benchmarks.branching --split=validation \\
      --workdirs=workdirs/branching_small_frvp_c2h4 \\
      --reference=workdirs/small_ft_c2 --thresholds=0,0.1,0.2,0.3,0.4,0.5

Why: ``branching.train_threshold`` 0.4 instead of 0.2. At 320 ms the hard-route
run trained at 0.2 was best run at 0.1 (``branching_small_frvp_h``): an
expensive path trained with a few more cheap chunks in its caches than
inference leaves is robust to the ones inference does leave. 40 % saving at
160 ms needs a threshold of ~0.2-0.3, so the training routes here are
stricter than that. Everything else as ``branching_small_frvp_c2h``; the
anchor is ``small_ft_c2``.

Measured (2026-12-05, 2 CPU cores, ~12 min; beam 4): no different from
``branching_small_frvp_c2h``. The router learns the same speech detector
(test, threshold 0.3: 92.6 % of the speech chunks and 4.0 % of the others
expensive in both). Validation picks 0.3 again (40.7 % at +0.3 %); on
``test`` (anchor 42.0 %): every chunk expensive +0.9 %, 39.7 % at +4.5 %
(0.2), **41.2 % at +5.6 %** (0.3). Target not met.
"""

from experiments import branching_small_frvp_c2h


def get_config():
  c = branching_small_frvp_c2h.get_config()
  c.model.encoder.branching.train_threshold = 0.4  # stricter than the inference thresholds
  return c
