"""LibriSpeech train-clean-100 (TCPGen's setting), one GPU.

  python -m launch.train --config=experiments/librispeech_100.py --workdir=workdirs/ls100

Same model family as ``librispeech_960`` at 12 x 256; 100 h of training data.
Hardware: one GPU, about a day; not run here.
"""

from experiments import librispeech_960


def get_config():
  c = librispeech_960.get_config()
  c.data.train = "data/ls/train-clean-100.jsonl"
  c.data.vocab_size = 512
  c.data.batch_frames = 100000
  e = c.model.encoder
  e.num_layers = 12
  e.dim = 256
  e.num_heads = 4
  e.subsample_channels = 128
  c.model.predictor.embed_dim = 256
  c.model.predictor.hidden = 512
  c.model.joint_dim = 512
  c.train.num_steps = 60000
  return c
