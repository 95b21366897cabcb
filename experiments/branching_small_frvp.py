"""``branching_small_frv`` with a per-frame router.

  python -m launch.train --config=experiments/branching_small_frvp.py \\
      --workdir=workdirs/branching_small_frvp
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp \\
      --reference=workdirs/small_ft2 --thresholds=0,0.05,0.1,0.2,0.3

``branching.router_per_frame``: the router's LayerNorm and hidden layer run on
every projected frame of the chunk and of its 0.96 s history, and the output
layer reads the chunk's mean and max and the history's mean of them: a small
per-frame speech detector instead of a linear function of the chunk mean.
In ``branching_small_frv`` the remaining routing errors are again whole noisy
requests (babble, pink noise). Cost: ~0.2 % of the encoder (analytic).
Everything else as ``branching_small_frv`` (warm start from ``small_ft``).

Measured (2026-12-05, 2 CPU cores, 13 min; test, beam 4; BUILD.md): at
threshold 0.2, 3.8 % of the non-speech chunks expensive (babble 8 %) at 90 %
of the speech chunks, the cheap ones almost all at the edges of speech.
Against the fair anchor ``small_ft2`` (39.9 %): every chunk expensive +4.7 %,
36 % saving at +3.2 % (threshold 0.1), 38 % at +5.8 %, 39 % at +7.5 %, 40 % at
+8.0 % (0.25): the best trade of the branching runs, short of the target
(>= 40 % at <= 3 %).
"""

from experiments import branching_small_frv


def get_config():
  c = branching_small_frv.get_config()
  c.model.encoder.branching.router_per_frame = True  # a per-frame detector, then pooling
  return c
