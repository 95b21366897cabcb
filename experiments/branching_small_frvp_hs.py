"""``branching_small_frvp_h`` whose router also learns from the task loss.

  python -m launch.train --config=experiments/branching_small_frvp_hs.py \\
      --workdir=workdirs/branching_small_frvp_hs
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_hs \\
      --reference=workdirs/small_ft_ws --thresholds=0,0.1,0.15,0.2,0.25,0.3

Why: with hard training routes (``branching_small_frvp_h``) the router learns
only where the corpus's speech span is; the chunks at the edges of speech,
which decide the last points of saving, are routed by their share of the
span, whatever the transcript needs. ``branching.train_straight_through``
keeps the hard, noise-free routes of ``frvp_h`` in the forward pass and
passes the task loss's gradient to the router's probabilities (mixture
weights ``one_hot + p - stop_gradient(p)``), as the Gumbel recipe did but
without its noise. Everything else as ``branching_small_frvp_h``.

Measured (2026-12-05, 2 CPU cores, 12 min; test, beam 4, against
``small_ft_ws`` 39.8 %; BUILD.md "Branching encoder"): every chunk expensive
41.1 % (+3.2 %), 36.6 % saving at +5.2 %, 38.5 % at +6.9 %, 40.6 % at +10.7 %;
the router routes as ``frvp_h``'s does (onset and offset chunks 72 / 71 %
expensive at threshold 0.2, against 72 / 70 %): the task gradient did not
change where the edges go, and the run is ~1 point worse at every threshold.
"""

from experiments import branching_small_frvp_h


def get_config():
  c = branching_small_frvp_h.get_config()
  c.model.encoder.branching.train_straight_through = True  # the task loss trains the router too
  return c
