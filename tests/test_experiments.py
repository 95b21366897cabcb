"""Every experiment config instantiates and runs one training step on tiny data."""

import functools
import glob
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

EXPERIMENTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "*.py"))
    if not p.endswith("__init__.py") and not p.endswith("default.py"))


def test_all_experiments_listed():
  assert {"tiny", "small", "medium", "base", "teacher", "catt_small", "librispeech_960"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_builds_and_steps(name, tiny_data_dir, tiny_tokenizer_path):
  from asr.data import pipeline, sources, tokenizer
  from asr.models import transducer
  from asr.training import state as state_lib
  from asr.training import train
  config = importlib.import_module(f"experiments.{name}").get_config()
  assert config.train.num_steps > 0 and config.model.encoder.dim % config.model.encoder.num_heads == 0
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  mcfg = state_lib.model_config(config, tok.vocab_size)
  model = transducer.Transducer(mcfg)
  tx, _ = state_lib.make_optimizer(config.train)
  st = state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx)
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  utts = pipeline.prepare_utterances(src, tok, 0.3, limit=2)
  bucket = pipeline.Bucket(max(len(u.feats) for u in utts) // 32 * 32 + 32, 16, 2, (0, 1))
  batch = pipeline.collate(utts, [0, 1], bucket)
  if config.model.biasing.enabled:
    batch.update(pipeline.PhraseTokens(tok).pad([["zoe muller", "reading lamp"], []], 4))
  step = jax.pmap(functools.partial(train.train_step, model=model, tx=tx, mean=jnp.zeros(80),
                                    std=jnp.ones(80), cfg=config), axis_name="batch")
  new, metrics = step(train.replicate(st), train.shard(batch, 1), train.replicate(jax.random.PRNGKey(0)))
  assert np.isfinite(float(metrics["loss"][0]))
  assert int(new.step[0]) == 1
