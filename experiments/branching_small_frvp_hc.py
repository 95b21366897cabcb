"""``branching_small_frvp_h`` with the router's and cheap branch's gradients
clipped apart from the rest.

  python -m launch.train --config=experiments/branching_small_frvp_hc.py \\
      --workdir=workdirs/branching_small_frvp_hc
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_hc \\
      --reference=workdirs/small_ft_ws --thresholds=0,0.1,0.15,0.2,0.25,0.3

Why: the routed runs' global gradient norm is ~10-12 (median over the logged
steps; the fresh router under its speech target weight 10, the distillation
term) against ~1.3 for the anchor ``small_ft_ws``, and ``train.clip_norm`` is
5: every step the expensive path's task gradient is scaled down by a factor
that the router's gradient sets, from step to step between ~1 and ~7. With
``train.clip_separately`` the router, feature projection, cheap branch and
carry form their own clipping group, so the rest trains as in its anchor.
Everything else as ``branching_small_frvp_h``.

Measured (2026-12-05, 2 CPU cores, ~14 min; test, beam 4, against
``small_ft_ws`` 39.8 %; BUILD.md "Branching encoder"): every chunk expensive
41.2 % (+3.5 %), 36.5 % saving at +5.6 %, 38.4 % at +6.9 %, 40.5 % at +10.8 %:
no better than one clipping group (``frvp_h``: +1.8 %, 36.4 % at +2.3 %); the
router's gradient norm was not what held the expensive path back.
"""

from experiments import branching_small_frvp_h


def get_config():
  c = branching_small_frvp_h.get_config()
  c.train.clip_separately = "^encoder/(router|cheap)"  # router, cheap_in, cheap, cheap_carry
  return c
