"""LibriSpeech 960 h at paper scale (Le et al. 2021 protocol), for GPU/TPU.

  python -m launch.librispeech_manifest --subset_dir=$LS/train-960 --output=data/ls/train-960.jsonl
  python -m launch.librispeech_manifest --subset_dir=$LS/dev-clean --output=data/ls/dev-clean.jsonl
  python -m launch.train --config=experiments/librispeech_960.py --workdir=workdirs/ls960
  python -m launch.evaluate --workdir=workdirs/ls960 --manifest=data/ls/test-clean.jsonl \
      --biasing=attention --output=results/ls960_test_clean.json

(train-960 = the concatenation of train-clean-100, train-clean-360 and
train-other-500 manifests.) Streaming Conformer transducer, 17 x 512, 1024
wordpieces, attention biasing trained with rare-word lists drawn on the fly
(each utterance's rare words + up to 100 distractors, Le et al.).
Hardware: 8 GPUs (pmap) or a TPU slice (--multihost); not run here. Note: the
input pipeline caches float16 log-mels of the whole training set in host
memory (~55 GB for 960 h); on-the-fly features are not implemented yet.
"""

from experiments import base


def get_config():
  c = base.get_config()
  c.data.train = "data/ls/train-960.jsonl"
  c.data.validation = "data/ls/dev-clean.jsonl"
  c.data.vocab_size = 1024
  c.data.train_trailing_s = 0.0
  c.data.batch_frames = 400000
  e = c.model.encoder
  e.num_layers = 17
  e.dim = 512
  e.num_heads = 8
  e.conv_kernel = 31
  e.subsample_channels = 256
  e.subsample_factor = 4
  e.chunk_size = 8
  e.left_context = 64
  c.model.predictor.embed_dim = 512
  c.model.predictor.hidden = 640
  c.model.joint_dim = 640
  c.model.biasing.dim = 256
  t = c.train
  t.num_steps = 150000
  t.warmup_steps = 10000
  t.learning_rate = 1e-3
  t.spec_augment.freq_mask_width = 27
  c.eval.splits = ("data/ls/test-clean.jsonl", "data/ls/test-other.jsonl")
  return c
