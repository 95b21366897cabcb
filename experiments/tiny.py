"""Tiny: a model small enough that a training step takes well under a second.

For tests and smoke runs on the ``tiny`` corpus (184 utterances):

  python -m launch.prepare_data --config=tiny --output_dir=data
  python -m launch.train --config=experiments/tiny.py --workdir=workdirs/tiny

Hardware: any CPU; 40 steps in about a minute. Not meant to reach a useful WER.
"""

from experiments import default


def get_config():
  c = default.get_config()
  c.data.corpus = "tiny"
  c.data.vocab_size = 128
  c.data.num_buckets = 2
  c.data.batch_frames = 3000
  e = c.model.encoder
  e.num_layers = 2
  e.dim = 64
  e.num_heads = 2
  e.ffn_mult = 2
  e.conv_kernel = 7
  e.subsample_channels = 16
  e.left_context = 8
  c.model.predictor.embed_dim = 32
  c.model.predictor.hidden = 64
  c.model.joint_dim = 64
  t = c.train
  t.num_steps = 40
  t.warmup_steps = 10
  t.learning_rate = 3e-3
  t.log_every = 10
  t.eval_every = 0
  t.eval_utterances = 16
  t.checkpoint_every = 20
  c.eval.beam = 2
  return c
