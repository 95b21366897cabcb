"""Teacher: the large full-context "cloud" model (>= 30M parameters).

  python -m launch.train --config=experiments/teacher.py --workdir=workdirs/teacher

Non-streaming (full attention context), 18 x 512 Conformer, 2-layer LSTM
prediction network, 1024 wordpieces; the teacher of teacher-student training.
Hardware: one or more GPUs (pmap over all local devices).
"""

from experiments import base


def get_config():
  c = base.get_config()
  c.data.vocab_size = 1024
  e = c.model.encoder
  e.num_layers = 18
  e.dim = 512
  e.num_heads = 8
  e.conv_kernel = 31
  e.subsample_channels = 256
  e.subsample_factor = 4
  e.chunk_size = 0  # full context
  p = c.model.predictor
  p.embed_dim = 512
  p.hidden = 640
  p.num_layers = 2
  c.model.joint_dim = 640
  c.model.biasing.enabled = False
  c.train.learning_rate = 1e-3
  c.train.num_steps = 60000
  return c
