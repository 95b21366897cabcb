"""lm_base: a larger cloud-side rescoring LM for the ``small`` corpus.

  python -m launch.train_lm --config=experiments/lm_base.py --workdir=workdirs/lm_base
  python -m benchmarks.rescoring --asr_workdir=workdirs/small --lm_workdir=workdirs/lm_base --beam=8 --first_pass_ilm_weight=0.05

``lm_small`` with 4x the parameters and 3x the grammar text: the rescoring
LM runs in the cloud, where a larger model costs nothing on the device. Same
data sources (train transcripts + template-grammar requests for train-pool
users; no validation or test text), same tokenizer.

Measured (2026-11-27, 2 CPU cores): 1.85M parameters, 3,000 steps in 16.3
min, loss 5.54 -> 1.70 nats per piece; validation perplexity 5.96 per piece
(41.0 per word; ``lm_small`` 6.75 / 53.0). Rescoring beam-8 lattices of the
quickstart ``small`` decoded with its tuned ILM subtraction (the second
command): test 45.7 % -> 44.5 % (-2.6 %; ``lm_small`` -2.3 %) (BUILD.md,
"Lattices and cloud rescoring").
"""

from experiments import lm_small


def get_config():
  c = lm_small.get_config()
  c.data.grammar_samples = 200000  # 3.3x lm_small's grammar text
  c.data.grammar_users = 8000
  c.model.dim = 192
  c.model.num_layers = 4
  c.model.num_heads = 4
  c.model.mlp_dim = 768
  c.train.num_steps = 3000  # ~1 pass over the 208k sentences at batch 64
  c.train.max_minutes = 25.0  # safety stop on 2 CPU cores
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 300
  return c
