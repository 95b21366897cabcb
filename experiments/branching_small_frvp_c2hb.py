"""``branching_small_frvp_c2h`` with the onset backfill.

  python -m launch.train --config=experiments/branching_small_frvp_c2hb.py \\
      --workdir=workdirs/branching_small_frvp_c2hb
  python -m benchmarks.branching --split=validation \\
      --workdirs=workdirs/branching_small_frvp_c2hb \\
      --reference=workdirs/small_ft_c2 --thresholds=0,0.1,0.2,0.3,0.4,0.5
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_c2hb \\
      --reference=workdirs/small_ft_c2 --thresholds=0,<chosen on validation>

Why: in ``branching_small_frvp_c2h`` the marginal saving is paid at the
onset: from every chunk expensive to threshold 0.3 the first word's errors
grow 29 %, the others' 4-5 % (``errors_by_position``, BUILD.md). The causal
router often sends the chunk where speech starts to the cheap branch, and the
expensive chunks after it then see neither keys nor convolution inputs of
it. ``branching.onset_backfill`` re-runs the expensive branch over that chunk
when the next one is expensive (its output is not revised: no latency), at
the cost of one more expensive chunk per onset, counted in the compute
saving. Trained with the backfill (the full-utterance run masks as streaming
will); everything else as ``branching_small_frvp_c2h`` (warm start from
``workdirs/small``, whole streams, 1,500 steps, hard routes at 0.2); the
anchor is ``small_ft_c2``.
"""

from experiments import branching_small_frvp_c2h


def get_config():
  c = branching_small_frvp_c2h.get_config()
  c.model.encoder.branching.onset_backfill = True  # re-run the onset chunk (no latency)
  return c
