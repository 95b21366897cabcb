"""Stream context small trained with same-user competing talkers.

  python -m launch.train --config=experiments/small_ft_household.py --workdir=workdirs/small_ft_household
  python -m launch.train --config=experiments/context_small_household.py --workdir=workdirs/context_small_household
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household --baseline=workdirs/small_ft_household

``context_small_talker`` with the household talker of ``small_ft_household``
(partners from the same user in another voice): the comparison that asks
whether stream context helps on ``test_noisy`` once training gives the
model no way but the voice to tell the speaker from the talker.

Measured: see BUILD.md, "Branching encoder and stream context".
"""

from experiments import context_small
from experiments import small_ft_household


def get_config():
  return small_ft_household.with_household_talkers(context_small.get_config())
