"""``branching_small_frvp`` from ``small`` with hard training routes.

  python -m launch.train --config=experiments/branching_small_frvp_h.py \\
      --workdir=workdirs/branching_small_frvp_h
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_h \\
      --reference=workdirs/small_ft_ws --thresholds=0.1,0.15,0.2,0.25,0.3

Why: the per-frame router of ``branching_small_frvp`` is nearly a perfect
speech detector, yet the routed model with every chunk expensive is already
~5 % behind its fair anchor ``small_ft_ws`` (same start, steps and whole
streams): the loss is in the expensive path, not in the routes. In training
the straight-through Gumbel sample sends chunks the router is unsure about
(the edges of speech, and early in training everything, from p = 0.5) to a
random branch, so the warm-started expensive blocks learn around holes that
inference never makes. ``branching.train_threshold`` routes training chunks
as inference does: hard, at p(expensive) > 0.2, no noise. The router then
learns from its speech target and the compute budget only (it starts at
p = 0.5 > 0.2: every chunk expensive until it has learned where speech is).

Everything else as ``branching_small_frvp`` (speech target 10, distillation 1,
lambda 3 on the budget 0.58, whole streams, 1,500 steps), started from
``workdirs/small`` like its anchor ``small_ft_ws``.

Measured (2026-12-05, 2 CPU cores, 11.5 min; beam 4; BUILD.md "Branching
encoder"). Test, against ``small_ft_ws`` (39.8 %): every chunk expensive
+1.8 % (Gumbel ``frvp`` from the same start: +5.0 %), **36.4 % saving at
+2.3 %** (threshold 0.1; Gumbel +5.9 %), 38.3 % at +4.0 %, 39.8 % at +6.1 %,
40.5 % at +8.4 %. A second seed of both (``--config.seed=1``; anchor 41.4 %,
1.6 points from seed 0's): every chunk expensive -0.1 %, 37.2 % at +4.0 %,
38.9 % at +4.8 %, 40.1 % at +7.8 %. Validation (400 utterances, anchor
41.5 %): every chunk expensive +5.1 %, 32.6 % at +2.7 % (threshold 0.05),
35.9 % at +6.3 %, 40.0 % at +13.9 %. Hard routes remove most of the gap of
the expensive path on test (every chunk expensive, four hard-route runs:
mean +2.1 %; three Gumbel runs: mean +4.5 %); the saving past ~37 % still
costs words at the edges of speech. The target (>= 40 % at <= 3 %) is not met.
"""

from experiments import branching_small_frvp


def get_config():
  c = branching_small_frvp.get_config()
  c.model.encoder.branching.train_threshold = 0.2  # hard routes in training, as inference
  c.train.init_from = "workdirs/small"  # the same start as the anchor small_ft_ws
  return c
