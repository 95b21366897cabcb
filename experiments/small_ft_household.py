"""Small fine-tuned with same-user competing talkers: the anchor of ``context_small_household``.

  python -m launch.train --config=experiments/small_ft_household.py --workdir=workdirs/small_ft_household
  python -m launch.train --config=experiments/context_small_household.py --workdir=workdirs/context_small_household
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household --baseline=workdirs/small_ft_household

``small_ft_talker`` whose competing talker is a "household" voice: the
partners mixed in are other utterances of the same user (same contacts and
devices) in another voice (``data.talker_mix.same_user``), as
``test_noisy``'s talker is built; with other users' utterances the second
voice can be told apart by its words, which teaches nothing about following
the wake-word voice.

Measured (2026-11-27, 2 CPU cores, from the quickstart's ``small`` at step
5,341): 1,500 steps in 24.4 min on cores shared with the test suite (~14 min
alone); greedy validation 44.1 % (U-WER 32.9 %); beam 4: test 44.7 %,
test_noisy 63.9 % (``small_ft_talker``: 45.3 % / 64.3 %).
"""

from experiments import small_ft_talker


def with_household_talkers(c):
  c = small_ft_talker.with_talkers(c)
  c.data.talker_mix.same_user = True
  return c


def get_config():
  return with_household_talkers(small_ft_talker.get_config())
