"""Base: the on-device-sized streaming model trained on one GPU.

  python -m launch.prepare_data --config=full --output_dir=data
  python -m launch.train --config=experiments/base.py --workdir=workdirs/base

Hardware: one GPU (H100 class); 30k steps. The 16-layer, 256-wide streaming
Conformer transducer (~20M parameters) with attention biasing.
"""

from experiments import default


def get_config():
  c = default.get_config()
  c.data.corpus = "full"
  c.data.vocab_size = 512
  c.data.batch_frames = 80000
  c.data.num_buckets = 8
  e = c.model.encoder
  e.num_layers = 16
  e.dim = 256
  e.num_heads = 4
  e.subsample_channels = 128
  e.left_context = 64
  c.model.predictor.embed_dim = 256
  c.model.predictor.hidden = 512
  c.model.joint_dim = 512
  c.model.biasing.enabled = True
  c.model.biasing.dim = 256
  c.data.context.max_distractors = 100
  t = c.train
  t.num_steps = 30000
  t.warmup_steps = 2000
  t.learning_rate = 1.5e-3
  t.eval_every = 2000
  t.checkpoint_every = 1000
  t.spec_augment.freq_mask_width = 27
  t.spec_augment.max_time_masks = 10
  return c
