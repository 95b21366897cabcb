"""catt_pointer_medium continued with longer training lists (0-160 distractors).

  python -m launch.train --config=experiments/catt_pointer_medium_n160.py \
    --workdir=workdirs/catt_pointer_medium_n160

``catt_pointer_medium`` trained with 0-64 distractors; on validation (150
utterances, beam 4) its pointer cut B-WER from 78.8 % to 18.8 % with the
utterance's own names as the list (N = 0) but not at all with 100
distractors (76.5 % against 77.1 % without the pointer): with this corpus's
256-piece vocabulary a name is spelled in 1-3 letter pieces, so 100 names
make a bushy prefix tree and the pointer must discriminate among many
similar continuations, which it never saw in training. This run continues
from its checkpoint with lists as long as the test protocol's.

Hardware: 2 CPU cores, ~20 minutes after catt_pointer_medium.

Measured (2026-11-26, 2 CPU cores): 700 steps in 18 min (the cap; ~14.5
utterances/s with the longer lists); greedy validation without a list
26.4 % (U-WER 13.7 %). Validation, 150 utterances, beam 4,
N = 100: B-WER 77.6 % with the pointer against 77.1 % without (U-WER 22.0 %
against 16.3 %); beam 12: 77.1 %; N = 10: 52.4 %. Longer training lists did
not help in 700 steps. Test-split figures: BUILD.md's biasing table
(``python -m benchmarks.biasing --workdir=workdirs/catt_pointer_medium_n160
--split=tfds:voice_assistant/small:test --distractors=0,100,1000
--modes=none,shallow,attention,both --context_score=1.0``).
"""

from experiments import catt_pointer_medium


def get_config():
  c = catt_pointer_medium.get_config()
  c.data.context.max_distractors = 160
  c.data.context.max_pointer_cands = 96
  c.train.init_from = "workdirs/catt_pointer_medium"
  c.train.learning_rate = 5e-4
  c.train.warmup_steps = 50
  c.train.num_steps = 900
  c.train.max_minutes = 18.0
  c.train.eval_every = 0
  return c
