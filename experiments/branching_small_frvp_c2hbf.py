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

Measured (2026-12-06, 2 CPU cores, ~13 min; beam 4; BUILD.md "Trained with the
backfill filter"). Operating point fixed on ``validation`` before ``test`` was
run: the smallest threshold with >= 40 % saving there (0.5: 40.6 % at -0.1 %).
On ``test`` (anchor 42.0 %): 39.2 % saving at +0.0 % (0.3), **40.9 % at
+0.3 %** (0.5, interval -4.0 .. +4.5 %), 41.4 % at +0.3 % (0.6), 42.0 % at
+1.1 % (0.7), 42.8 % at +4.8 % (0.8); 2-3 % of the chunks re-run at onsets.
Seeds 1-3 (``--config.seed=N``, anchors ``small_ft_c2_seedN``; validation
picks 0.5 for every seed): 40.8 % at +4.7 % (interval -0.1 .. +9.5 %), 41.4 %
at +4.1 % (-0.3 .. +8.5 %), 41.0 % at +4.0 % (-0.4 .. +8.3 %). The target is
met by seed 0 only; the mean of the four seeds is 41.0 % at +3.3 % (rule
written down before seeds 2 and 3 ran: the mean must be <= +3 %: missed). Every
chunk expensive (threshold 0), the four seeds are at -1.7 / +1.3 / +0.7 /
+0.5 % (mean +0.2 %): the branches are trained as well as the anchor, and the
~3 % is the price of the routing at 41 % saving (on ``test_unseen_voice``,
nothing chosen on it: +3.5 % mean at 0.5, +0.9 % all expensive). BUILD.md "Operating points
chosen on validation" generates the per-seed table.
"""

from experiments import branching_small_frvp_c2hb


def get_config():
  c = branching_small_frvp_c2hb.get_config()
  c.model.encoder.branching.backfill_threshold = 0.05  # re-run only uncertain onset chunks
  return c
