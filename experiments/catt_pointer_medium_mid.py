"""CATT + tree-constrained pointer on ``medium_mid``, for keyword-spotting preselection.

  python -m launch.train --config=experiments/medium_mid.py --workdir=workdirs/medium_mid
  python -m launch.train --config=experiments/catt_pointer_medium_mid.py \
    --workdir=workdirs/catt_pointer_medium_mid
  python -m benchmarks.biasing --workdir=workdirs/catt_pointer_medium_mid \
    --split=tfds:voice_assistant/small:test --distractors=0,100,1000 \
    --modes=none,attention,both --context_score=0.5 --nopointer_ablation \
    --pointer_preselect=5 --pointer_rank=ctc --preselect_min_score=-3.0 \
    --pointer_window=2 --attention_list=preselected --pointer_verify=1 --verify_joint=5 \
    --kws_cohort=60

The biasing attention and the wordpiece pointer added to the one-hour
``medium_mid`` acoustic model in one fine-tuning stage, on lists like the ones
CTC keyword-spotting preselection hands the pointer at test time (3 to 5
phrases): the true names, each kept with probability 0.7, plus 0-8
training-pool distractors. The quickstart chain's two stages (``catt_small``
on lists of 0-32, ``catt_pointer_small`` on 0-128, then
``catt_pointer_small_short`` on 0-4) are folded into one, since preselection
decides what the model sees. The pointer trains with the fused loss only.

Hardware: 2 CPU cores, 30 minutes (train.max_minutes).

Measured (2026-11-27, 2 CPU cores): 7.27M parameters, 2,146 steps in 30.7
min (the cap) at ~24-30 utterances/s; greedy validation without a list 31.7 %
(U-WER 19.2 %) on the 200 utterances where ``medium_mid`` ended at 37.3 %
(26.0 %). Settings chosen on 300 validation requests at N = 100 (beam 4, no
internal LM): the preselected phrases to the attention (WER 26.7 %, U-WER
19.4 %, B-WER 53.2 %) rather than the whole list (27.0 / 20.0 / 52.9 %); both
mechanisms with a shallow-fusion bonus of 0.5 / 1 / 2 per token: WER 26.2 /
26.4 / 27.7 % (B-WER 49.9 / 49.3 / 52.9 %), 0.5 kept. Test (the command above
with ``--pointer_preselect=3 --verify_joint=3``): no biasing WER 32.8 %,
U-WER 20.0 %, B-WER 81.2 %; N = 100 attention B-WER 47.1 % (-42 %), U-WER
17.8 % (-11 %); both 42.4 % (-48 %); N = 1,000 attention -21 %, both -25 %;
own names only -62 % / -72 %. Then K = J = 5 (``--pointer_preselect=5
--verify_joint=5``; validation WER 25.8 against 26.7 % at N = 100, 29.7
against 31.0 % at N = 1,000): test N = 100 attention -42 %, both 41.0 %
(-49.6 %); N = 1,000 -23 % / -26 %. With the keyword scores calibrated against
60 training utterances (``--kws_cohort=60``, ``asr.biasing.kws.Cohort``; the
command above; validation top-3 recall of the spoken name 68 -> 83 % at N =
100, 36 -> 65 % at N = 1,000): test N = 100 attention B-WER 42.4 % (-48 %),
both 36.4 % (-55 %); N = 1,000 attention 53.4 % (-34 %), both 50.0 % (-38 %);
U-WER -5 to -7 %. BUILD.md, "Context biasing".
"""

from experiments import medium_mid
from experiments import small


def get_config():
  c = small.fused_loss(medium_mid.get_config())  # the pointer needs the fused loss
  c.model.biasing.enabled = True
  c.model.biasing.pointer = True
  c.data.context.max_distractors = 8
  c.data.context.keep_prob = 0.7
  c.data.context.max_pointer_cands = 32
  c.train.bias_guide_weight = 1.0  # as catt_small: the attention learns nothing without it
  c.train.init_from = "workdirs/medium_mid"
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.train.num_steps = 2400
  c.train.max_minutes = 30.0
  c.train.eval_every = 0
  return c
