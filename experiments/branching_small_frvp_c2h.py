"""``branching_small_frvp_c2`` (160 ms chunks) with hard training routes.

  python -m launch.train --config=experiments/branching_small_frvp_c2h.py \\
      --workdir=workdirs/branching_small_frvp_c2h
  python -m benchmarks.branching --split=validation \\
      --workdirs=workdirs/branching_small_frvp_c2h \\
      --reference=workdirs/small_ft_c2 --thresholds=0,0.1,0.2,0.3,0.4
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_c2h \\
      --reference=workdirs/small_ft_c2 --thresholds=0,<chosen on validation>

Why: the two levers that each closed part of the gap, together. At 160 ms
the non-speech share of the ``test`` chunks is 40.4 % (36.9 % at 320 ms), so
40 % saving needs almost no speech chunk on the cheap branch; hard training
routes (``branching_small_frvp_h``) removed most of the expensive path's gap
at 320 ms (every chunk expensive: mean +2.1 % over four runs against +4.5 %
for the Gumbel runs). ``branching_small_frvp_c2`` is the Gumbel run at
160 ms. Everything else as ``branching_small_frvp_c2`` (warm start from
``workdirs/small``, whole streams, 1,500 steps); the anchor is
``small_ft_c2`` (same start, steps, requests and chunk size, no routing).

Measured (2026-12-05, 2 CPU cores, ~12 min; beam 4; BUILD.md "Branching
encoder"). Operating point fixed on ``validation`` before ``test`` was run:
the smallest threshold with >= 40 % saving there (0.3; validation: 40.7 %
saving at +1.1 % against 44.9 %). On ``test`` (anchor 42.0 %): every chunk
expensive -1.4 %, 36.7 % saving at +2.3 % (0.1), 39.7 % at +3.5 % (0.2),
**41.2 % at +4.9 %** (0.3, interval +0.1 .. +9.7 %). Second seed of both
(``--config.seed=1``; anchor 41.7 %): every chunk expensive +3.0 %, 39.6 %
at +4.4 % (0.2), 41.3 % at +6.1 % (0.3, the threshold its validation picks;
validation there +10.5 %). Closer than every 320 ms run at ~40 % saving,
the target (>= 40 % at <= 3 % on ``test``) is still not met.
"""

from experiments import branching_small_frvp_c2


def get_config():
  c = branching_small_frvp_c2.get_config()
  c.model.encoder.branching.train_threshold = 0.2  # hard routes in training, as inference
  return c
