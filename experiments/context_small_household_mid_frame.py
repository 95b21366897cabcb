"""``context_small_household_mid`` with the whole wake-word segment as context.

  python -m launch.train --config=experiments/context_small_household_mid_frame.py --workdir=workdirs/context_small_household_mid_frame
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household_mid_frame --baseline=workdirs/small_ft_household_mid

The same recipe, start and seed handling as ``context_small_household_mid``;
only ``data.stream_context.align`` differs: each wake segment is rounded
down to whole 80 ms encoder frames instead of whole 320 ms chunks (the
model masks the padding in front of its first chunk), so on ``mid``'s
``test_noisy`` the context averages 0.74 s instead of 0.62 s (the wake
segments average 0.78 s): the start of the wake word, cut before, is kept.

Measured (2026-12-06, pre-registered, 2 CPU cores; seeds 1 and 2 from
``small_mid`` step 4,192, each against ``small_ft_household_mid`` of the same
seed; beam 4): test_noisy 61.9 % vs 65.2 % (-5.1 %, paired-bootstrap 95 %
interval -9.5 .. -0.4 %) and 61.8 % vs 65.2 % (-5.2 %, -9.9 .. -0.7 %); test
-2.2 % and -0.1 % (inside the noise). Mean -5.15 %: the issue's -6 % is not
met. A third seed (a replicate decided after the two-pair result): test_noisy
63.3 % vs 65.4 % (-3.2 %, -8.0 .. +1.8 %), test -10.3 %; over three pairs
-4.5 % on test_noisy, -4.2 % on test (BUILD.md, "Branching encoder and stream
context").
"""

from experiments import context_small_household_mid


def get_config():
  c = context_small_household_mid.get_config()
  c.data.stream_context.align = "frame"
  return c
