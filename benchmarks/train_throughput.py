r"""Training-step throughput of an experiment config on synthetic batches.

  python -m benchmarks.train_throughput --config=experiments/base.py [--steps=20]
      [--batch_frames=N] [--frames=400] [--labels=24] [--config.train.loss_impl=pruned]

Runs the real pmapped ``train_step`` (model, loss, optimizer) on random
features of a fixed shape (B = batch_frames / frames per device-batch) and
reports compile time, step time, utterances/s and audio seconds per second
(10 ms frames), plus the parameter count. Data loading is excluded: the real
pipeline keeps features in memory and collates in a background thread.
Writes one JSON to ``results/train_throughput/``.
"""

import functools
import time

from absl import app
from absl import flags
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", "experiments/small.py",
                                "Experiment config file (overrides: --config.x.y=v).")
flags.DEFINE_integer("steps", 20, "Timed steps (after 2 warm-up steps).")
flags.DEFINE_integer("batch_frames", None, "Override data.batch_frames.")
flags.DEFINE_integer("frames", 400, "Feature frames per utterance (10 ms each).")
flags.DEFINE_integer("labels", 24, "Labels per utterance.")
flags.DEFINE_integer("vocab_size", None, "Override data.vocab_size.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from asr.models import transducer  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  from asr.training import train  # pylint: disable=g-import-not-at-top
  c = FLAGS.config
  vocab = FLAGS.vocab_size or c.data.vocab_size
  frames = FLAGS.batch_frames or c.data.batch_frames
  n_dev = jax.local_device_count()
  b = max(n_dev, frames // FLAGS.frames // n_dev * n_dev)
  mcfg = state_lib.model_config(c, vocab)
  model = transducer.Transducer(mcfg)
  tx, _ = state_lib.make_optimizer(c.train)
  st = state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx)
  rng = np.random.default_rng(0)
  batch = {"feats": rng.standard_normal((b, FLAGS.frames, c.data.num_mel_bins)).astype(np.float32),
           "feat_lengths": np.full(b, FLAGS.frames, np.int32),
           "labels": rng.integers(1, vocab, (b, FLAGS.labels)).astype(np.int32),
           "label_lengths": np.full(b, FLAGS.labels, np.int32)}
  if c.model.biasing.enabled:
    n = c.data.context.max_distractors + c.data.context.max_entities
    batch["ctx_tokens"] = rng.integers(1, vocab, (b, n, c.data.context.max_phrase_len)).astype(np.int32)
    batch["ctx_lengths"] = rng.integers(0, c.data.context.max_phrase_len + 1, (b, n)).astype(np.int32)
  step = jax.pmap(functools.partial(train.train_step, model=model, tx=tx,
                                    mean=jnp.zeros(c.data.num_mel_bins),
                                    std=jnp.ones(c.data.num_mel_bins), cfg=c),
                  axis_name="batch", donate_argnums=(0,))
  p = train.replicate(st)
  r = train.replicate(jax.random.PRNGKey(1))
  sharded = train.shard(batch, n_dev)
  t0 = time.perf_counter()
  p, m = step(p, sharded, r)
  jax.block_until_ready(m)
  compile_s = time.perf_counter() - t0
  p, m = step(p, sharded, r)
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for _ in range(FLAGS.steps):
    p, m = step(p, sharded, r)
  jax.block_until_ready(m)
  step_s = (time.perf_counter() - t0) / FLAGS.steps
  metrics = {
      "num_params": transducer.count_params(st.params), "global_batch": b,
      "devices": n_dev, "compile_seconds": compile_s, "step_seconds": step_s,
      "utts_per_sec": b / step_s, "audio_sec_per_sec": b * FLAGS.frames * 0.01 / step_s,
      "loss_finite": bool(np.isfinite(float(np.asarray(m["loss"])[0]))),
  }
  print(metrics)
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  path = common.write_result("train_throughput", metrics, {
      "config": config_flags.get_config_filename(FLAGS["config"]), "loss_impl": c.train.loss_impl,
      "frames": FLAGS.frames, "labels": FLAGS.labels,
      "batch_frames": frames, "vocab_size": vocab, "steps": FLAGS.steps})
  print(path)


if __name__ == "__main__":
  app.run(main)
