"""Stream context small trained with competing talkers.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/context_small_talker.py --workdir=workdirs/context_small_talker
  python -m launch.train --config=experiments/small_ft_talker.py --workdir=workdirs/small_ft_talker
  python -m benchmarks.stream_context --workdir=workdirs/context_small_talker --baseline=workdirs/small_ft_talker

``context_small`` with the competing-talker augmentation of
``small_ft_talker``: a model can only learn to follow the voice that said the
wake word if training shows it streams with a second voice, which the
corpus's train split lacks (only ``test_noisy`` has a competing talker).

Re-measured (2026-11-27, warm-started from the quickstart's pruned-loss
``small``, step 5,341; 1,500 steps in 17.4 min): beam 4 against
``small_ft_talker``, test 42.1 % vs 45.3 % (**-6.9 %**, paired bootstrap
95 % interval -10.9 .. -3.2 %), test_noisy 65.6 % vs 64.3 % (+1.9 %, -3.1 ..
+7.4 %: no gain on the competing talker; the issue's -6 % there is not met).
Greedy validation 42.7 % (U-WER 31.6 %).

First measured (2026-11-26, from the fused-loss ``small`` at step 3,850,
beam 4, ``benchmarks.stream_context`` against ``small_ft_talker``): test_noisy WER 70.9 % against 75.1 %
(**-5.5 % relative**; the issue's target is -6 %: narrowly missed), test
54.8 % against 56.7 % (-3.4 %); greedy (``--beam=1``): test_noisy 70.1 %
against 73.5 % (-4.7 %). The context averaged 0.62 s. Without the
augmentation the same comparison gave -4 % (``context_small`` against
``small_ft``: 77.9 % against 80.9 %); the augmentation alone took the
no-context model from 80.9 % to 75.1 % on test_noisy and cost it 2.4 points
on clean test (54.3 -> 56.7 %). Withheld context: 74.9 % / 91.3 %. The run was
interrupted at step 250 and resumed (steps 250-1,500 in 16.7 min on loaded
cores); ``small_ft_talker``: 1,500 steps in 13.4 min.
"""

from experiments import context_small
from experiments import small_ft_talker


def get_config():
  return small_ft_talker.with_talkers(context_small.get_config())
