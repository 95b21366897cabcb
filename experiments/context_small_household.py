"""Stream context small trained with same-user competing talkers.

  python -m launch.train --config=experiments/small_ft_household.py --workdir=workdirs/small_ft_household
  python -m launch.train --config=experiments/context_small_household.py --workdir=workdirs/context_small_household
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household --baseline=workdirs/small_ft_household

``context_small_talker`` with the household talker of ``small_ft_household``
(partners from the same user in another voice): the comparison that asks
whether stream context helps on ``test_noisy`` once training gives the
model no way but the voice to tell the speaker from the talker.

Measured (2026-11-27, 2 CPU cores, same start): 1,500 steps in 17.0 min;
greedy validation 42.7 % (U-WER 31.1 %). Beam 4 against ``small_ft_household``
(paired bootstrap 95 % intervals): test 42.6 % vs 44.7 % (-4.6 %, -8.6 ..
-0.4 %), test_noisy 62.9 % vs 63.9 % (-1.5 %, -6.0 .. +3.2 %): the right sign
on the competing talker (insertions 10.6 -> 9.1 %), where the other-user
mixture gave +1.9 %, but not the issue's -6 % (BUILD.md, "Branching encoder
and stream context").
"""

from experiments import context_small
from experiments import small_ft_household


def get_config():
  return small_ft_household.with_household_talkers(context_small.get_config())
