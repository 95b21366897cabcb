"""``catt_pointer_small`` fine-tuned on short lists, for keyword-spotting preselection.

  python -m launch.train --config=experiments/catt_pointer_small_short.py \
    --workdir=workdirs/catt_pointer_small_short
  python -m benchmarks.biasing --workdir=workdirs/catt_pointer_small_short \
    --distractors=0,100,1000 --modes=none,attention --nopointer_ablation \
    --pointer_preselect=3 --pointer_rank=ctc --preselect_min_score=-3.0 \
    --pointer_window=0 --attention_list=empty

With CTC keyword-spotting preselection (``--pointer_rank=ctc``,
:mod:`asr.biasing.kws`) the pointer's tree holds at most 3 phrases at test
time, and the spoken name is among them about 64 % of the time at N = 100
(``benchmarks.preselect``). ``catt_pointer_small`` was trained on lists of up
to 128 distractors; this variant continues it on lists like the preselected
ones: the true names, each kept with probability 0.7, plus 0-4 training-pool
distractors. Hardware: 2 CPU cores, 15 minutes.

Measured (2026-11-27, 2 CPU cores): 1,500 steps in ~14 min. Test, beam 4, the
command above (settings chosen on 300 validation requests): N = 100 B-WER
85.0 -> 60.1 % (-29 %) with U-WER 30.1 -> 29.2 %, WER 41.6 -> 35.7 %; N =
1,000 B-WER -14 %, U-WER -5 %; own names only -42 %. BUILD.md, "Context
biasing" (CTC keyword-spotting preselection).
"""

from experiments import catt_pointer_small


def get_config():
  c = catt_pointer_small.get_config()
  c.data.context.max_distractors = 4
  c.data.context.keep_prob = 0.7
  c.data.context.max_pointer_cands = 32
  c.train.init_from = "workdirs/catt_pointer_small"
  c.train.learning_rate = 5e-4
  c.train.warmup_steps = 50
  c.train.num_steps = 1500
  c.train.max_minutes = 15.0
  return c
