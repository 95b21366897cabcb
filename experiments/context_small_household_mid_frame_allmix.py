"""``context_small_household_mid_frame`` with a competing talker in every training request.

  python -m launch.train --config=experiments/small_ft_household_mid_allmix.py --workdir=workdirs/small_ft_household_mid_allmix
  python -m launch.train --config=experiments/context_small_household_mid_frame_allmix.py --workdir=workdirs/context_small_household_mid_frame_allmix
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household_mid_frame_allmix --baseline=workdirs/small_ft_household_mid_allmix

Frame-aligned stream context (the whole wake segment, rounded down to 80 ms
encoder frames) with same-user competing talkers mixed into every training
request (``small_ft_household_mid_allmix.all_mixed``) instead of half of them;
the start, recipe and seed handling are those of
``context_small_household_mid_frame``. Its anchor is
``small_ft_household_mid_allmix`` of the same seed.
"""

from experiments import context_small_household_mid_frame
from experiments import small_ft_household_mid_allmix


def get_config():
  return small_ft_household_mid_allmix.all_mixed(
      context_small_household_mid_frame.get_config())
