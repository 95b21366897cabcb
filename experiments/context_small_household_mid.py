"""``context_small_household`` on the ``mid`` corpus, from ``small_mid``.

  python -m launch.train --config=experiments/small_ft_household_mid.py --workdir=workdirs/small_ft_household_mid
  python -m launch.train --config=experiments/context_small_household_mid.py --workdir=workdirs/context_small_household_mid
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household_mid --baseline=workdirs/small_ft_household_mid

Stream context (the wake-word segment primes the encoder) with same-user
competing talkers, the same 1,500-step recipe and start as its anchor
``small_ft_household_mid``; only the context differs.

Measured (2026-12-04, 2 CPU cores, beside other jobs; resumed once from its
step-1,000 checkpoint after a crash of the evaluation code it had loaded):
beam 4 against ``small_ft_household_mid`` (paired bootstrap 95 % intervals):
test 39.1 % vs 40.3 % (-3.2 %, -8.3 .. +2.0 %), **test_noisy 57.7 % vs
61.2 % (-5.6 %, -10.1 .. -0.9 %)**; without its context at inference 70.6 % /
87.5 % (BUILD.md, "Branching encoder and stream context").
"""

from experiments import context_small_household
from experiments import small_ft_household_mid


def get_config():
  return small_ft_household_mid.on_mid(context_small_household.get_config())
