"""``branching_small_frvp`` with 160 ms chunks: the router decides twice as often.

  python -m launch.train --config=experiments/branching_small_frvp_c2.py \\
      --workdir=workdirs/branching_small_frvp_c2
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frvp_c2 \\
      --reference=workdirs/small_ft_c2 --thresholds=0,0.05,0.1,0.15,0.2,0.3

Why: the per-frame router of ``branching_small_frvp`` is nearly a perfect
speech detector (threshold 0.2: 3.8 % of the non-speech chunks expensive,
90 % of the speech chunks), so its saving is capped by the share of chunks
that hold no speech at all: 36 % of the 320 ms chunks of ``test``. A chunk
that only touches the speech span is a speech chunk; with 160 ms chunks
each edge of the request wastes half as much, and more of the stream is
silence the router can skip.

Warm-started from the quickstart's ``workdirs/small`` (320 ms chunks; the
blocks are chunk-size agnostic), 1,500 steps with the ``frvp`` recipe
(every parameter trained, whole streams). The anchor is ``small_ft_c2``: the
same start, steps and requests at the same chunk size without routing.

Measured (2026-12-05, 2 CPU cores, 11.6 min; beam 4; BUILD.md "Branching
encoder"). Threshold chosen on ``validation`` (400 utterances, anchor 44.9 %):
0.3 gives 40.1 % saving at +2.0 % there. On ``test`` (anchor 42.0 %) the same
threshold gives 40.5 % saving at +6.4 % (interval +1 .. +12 %); the best test
point is 35.8 % at +3.6 % (threshold 0.1); every chunk expensive is +3.8 %.
The router is as good a speech detector as at 320 ms (threshold 0.3: 93 % of
the speech chunks expensive, 4 % of the others), but the anchor itself pays
for the shorter chunk (``small_ft_c2`` 42.0 % against ``small_ft_ws`` 39.8 %
at 320 ms), so against the 320 ms model this is +12 %: no gain over
``branching_small_frvp``.
"""

from experiments import branching_small_frvp


def get_config():
  c = branching_small_frvp.get_config()
  c.model.encoder.chunk_size = 2  # 2 x 80 ms = 160 ms chunks: routed twice as often
  c.train.init_from = "workdirs/small"  # the same start as the anchor small_ft_c2
  return c
