"""``branching_small_frvp_c2hb`` trained with the backfill filter it runs with.

  python -m launch.train --config=experiments/branching_small_frvp_c2hbf.py \\
      --workdir=workdirs/branching_small_frvp_c2hbf
  python -m benchmarks.branching --split=validation \\
      --workdirs=workdirs/branching_small_frvp_c2hbf \\
      --reference=workdirs/small_ft_c2 --thresholds=0.3,0.5,0.6,0.7,0.8
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_c2hbf \\
      --reference=workdirs/small_ft_c2 --thresholds=0.3,0.5,0.6,0.7,0.8

Why: ``branching_small_frvp_c2hb`` re-runs every cheap chunk before an onset
(~6 % of the chunks), which caps its saving near 39 % at the anchor's WER;
skipping the re-runs of chunks the router is sure are silence
(``backfill_threshold``) at inference only cost more WER than it saved,
because the model was trained to see those keys. Here training and inference
both re-run only a cheap chunk whose own p(expensive) exceeds 0.05.
Everything else as ``branching_small_frvp_c2hb`` (anchor ``small_ft_c2``).
"""

from experiments import branching_small_frvp_c2hb


def get_config():
  c = branching_small_frvp_c2hb.get_config()
  c.model.encoder.branching.backfill_threshold = 0.05  # re-run only uncertain onset chunks
  return c
