"""CATT + tree-constrained pointer on the quickstart chain (``catt_small``).

  python -m launch.train --config=experiments/catt_pointer_small.py \
    --workdir=workdirs/catt_pointer_small
  python -m benchmarks.biasing --workdir=workdirs/catt_pointer_small \
    --distractors=100 --pointer_preselect=8

``catt_pointer_medium``'s recipe on the quickstart's ``catt_small``: the
wordpiece-level pointer of :mod:`asr.biasing.pointer` warm-started from
``workdirs/catt_small`` (gate near 0 at the start), trained jointly on the
``small`` corpus with lists as long as the protocol's from the start: the
true names (kept with probability 0.8) plus 0-128 training-pool distractors.
Exists so that the pointer can be measured on the chain a fresh machine
builds (the ``medium`` chain takes hours). Hardware: 2 CPU cores, 25 minutes.

Measured (2026-11-27, 2 CPU cores): 3.34M parameters, 1,450 steps in 25.6
min (the cap). Test, beam 4 (``python -m benchmarks.biasing
--workdir=workdirs/catt_pointer_small --distractors=0,100 --modes=none,attention
--pointer_preselect=8 --pointer_rank=phonetic``): own names only, B-WER
87.0 % -> 29.0 %; N = 100, two passes, B-WER 78.6 % (-10 %; 80.6 % with
``--pointer_rank=spelling``), U-WER 30.6 -> 32.5 %. BUILD.md, "Context biasing".

With CTC keyword-spotting preselection (2026-11-27, ``--pointer_preselect=3
--pointer_rank=ctc --preselect_min_score=-3.0 --pointer_window=0
--attention_list=empty``, chosen on validation): test N = 100 B-WER 87.0 ->
69.4 % (-20 %) with U-WER +2.3 %; N = 1,000 -9 %; own names only -35 %.
"""

from experiments import catt_small


def get_config():
  c = catt_small.get_config()
  c.model.biasing.pointer = True
  c.model.biasing.pointer_dim = 64
  c.data.context.max_distractors = 128  # the protocol's lists hold 100 and 1,000
  c.data.context.max_pointer_cands = 96
  c.train.init_from = "workdirs/catt_small"
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.train.num_steps = 3000
  c.train.max_minutes = 25.0
  c.train.eval_every = 0
  return c
