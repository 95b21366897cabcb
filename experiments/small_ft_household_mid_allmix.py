"""``small_ft_household_mid`` with a competing talker in every training request.

  python -m launch.train --config=experiments/small_ft_household_mid_allmix.py --workdir=workdirs/small_ft_household_mid_allmix
  python -m launch.train --config=experiments/context_small_household_mid_frame_allmix.py --workdir=workdirs/context_small_household_mid_frame_allmix
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household_mid_frame_allmix --baseline=workdirs/small_ft_household_mid_allmix

The no-context anchor of ``context_small_household_mid_frame_allmix``: the
same start (``workdirs/small_mid``), 1,500-step recipe and same-user
("household") talkers as ``small_ft_household_mid``, but the talker is mixed
into every training request (``data.talker_mix.prob`` 1.0 instead of 0.5), so
the stream-context model of the pair sees twice as many requests in which
following the wake-word voice pays.

Measured (2026-12-06, pre-registered, 2 CPU cores; seeds 1 and 2 from
``small_mid`` step 4,192; 23-32 min with the data preparation; beam 4):
test 48.2 / 47.2 %, test_noisy 62.6 / 65.1 % (``small_ft_household_mid`` of
the same seed: 44.8 / 44.1 %, 65.2 / 65.2 %). Against it the context model of
the pair changes test_noisy WER by -0.15 % on average (BUILD.md, "Branching
encoder and stream context").
"""

from experiments import small_ft_household_mid

# Share of training requests with a same-user competing talker mixed in
# (small_ft_talker.TALKER_PROB, 0.5, elsewhere).
ALL_MIXED_PROB = 1.0


def all_mixed(c):
  """A competing talker (4-12 dB below the speaker) in every training request."""
  c.data.talker_mix.prob = ALL_MIXED_PROB
  return c


def get_config():
  return all_mixed(small_ft_household_mid.get_config())
