"""``small_ft_household`` on the ``mid`` corpus, from ``small_mid``: the anchor of ``context_small_household_mid``.

  python -m launch.train --config=experiments/small_mid.py --workdir=workdirs/small_mid
  python -m launch.train --config=experiments/small_ft_household_mid.py --workdir=workdirs/small_ft_household_mid
  python -m launch.train --config=experiments/context_small_household_mid.py --workdir=workdirs/context_small_household_mid
  python -m benchmarks.stream_context --workdir=workdirs/context_small_household_mid --baseline=workdirs/small_ft_household_mid

The shared 1,500-step fine-tuning recipe (``small_ft.fine_tune``) with the
same-user competing talker of ``small_ft_household``, warm-started from the
quickstart's ``small_mid`` (step 5,350) and fine-tuned on ``mid``'s 24,000
training requests.

Measured (2026-12-04, 2 CPU cores, partly beside other jobs): 1,500 steps in 18.0 min;
beam 4 (modified search): test 40.3 % (U-WER 29.4 %), test_noisy 61.2 %
(``small_ft_household`` from ``small``: 42.9 % / 65.1 %).
"""

from experiments import small_ft_household


def on_mid(c):
  """The mid corpus and the quickstart's small_mid as the warm start."""
  c.data.corpus = "mid"  # 24,000 training requests (asr/data/voice_assistant.py)
  c.train.init_from = "workdirs/small_mid"
  return c


def get_config():
  return on_mid(small_ft_household.get_config())
