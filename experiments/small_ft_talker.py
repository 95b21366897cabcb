"""Small fine-tuned with competing talkers: the no-context anchor of ``context_small_talker``.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/small_ft_talker.py --workdir=workdirs/small_ft_talker

``small_ft`` (the shared 1,500-step warm-start recipe) with the training
streams' competing-talker augmentation on (``data.talker_mix``, half of the
utterances, 4-12 dB below the speaker, wake word included, like
``test_noisy``). Nothing else differs from ``context_small_talker`` but the
stream context, so ``benchmarks.stream_context`` between the two measures
what the wake-word audio adds when the model has heard other talkers.

Measured (2026-11-27, 2 CPU cores, from the quickstart's pruned-loss
``small`` at step 5,341): 1,500 steps in 13.8 min; greedy validation 44.7 %
(U-WER 33.6 %); beam 4: test 45.3 %, test_noisy 64.3 %. From the fused-loss
``small`` of 2026-11-26 (step 3,850): 13.4 min, test 56.7 %, test_noisy
75.1 % (``small_ft``: 54.3 % / 80.9 %). The stream-context comparisons are
in ``context_small_talker.py`` and ``context_anchor_small_talker.py``.
"""

from experiments import small
from experiments import small_ft

# Share of training utterances with a competing talker mixed in.
TALKER_PROB = 0.5


def with_talkers(c):
  """Turns on the competing-talker augmentation of the training streams."""
  c.data.talker_mix.prob = TALKER_PROB
  c.data.talker_mix.snr_db = (4.0, 12.0)  # the range test_noisy was built with
  return c


def get_config():
  return with_talkers(small_ft.fine_tune(small.get_config()))
