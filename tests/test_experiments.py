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
    if not p.endswith("__init__.py") and not p.endswith("default.py")
    and not os.path.basename(p).startswith("lm_")
    and os.path.basename(p) != "endpointer.py")  # end-of-query model: tests/test_endpointing.py
# Language-model configs (launch.train_lm): their own schema, their own test below.
LM_EXPERIMENTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "lm_*.py")))


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
  tx, _ = state_lib.make_optimizer(config.train)
  # The full model, shapes only (no compile): every module builds.
  full = jax.eval_shape(functools.partial(state_lib.create_train_state, jax.random.PRNGKey(0),
                                          state_lib.model_config(config, config.data.vocab_size), tx))
  n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(full.params))
  if name == "teacher":
    assert n_params >= 30e6, n_params  # the "cloud" model of the compression issues
  # The step: the same config with at most 2 encoder blocks, so the GPU-scale
  # configs (16-18 blocks) compile in seconds on CPU; every option is kept.
  config.model.encoder.num_layers = min(config.model.encoder.num_layers, 2)
  mcfg = state_lib.model_config(config, tok.vocab_size)
  model = transducer.Transducer(mcfg)
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


def test_lm_experiments_listed():
  assert "lm_small" in LM_EXPERIMENTS


@pytest.mark.parametrize("name", LM_EXPERIMENTS)
def test_lm_config_builds_and_steps(name):
  from asr.lm import model as model_lib
  from asr.lm import train as lm_train
  from asr.training import state as state_lib
  config = importlib.import_module(f"experiments.{name}").get_config()
  assert config.data.max_len <= config.model.max_len
  assert config.model.dim % config.model.num_heads == 0
  model = model_lib.TransformerLM(lm_train.model_config(config, 64))
  tx, _ = lm_train.make_optimizer(config.train)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, config.data.max_len), jnp.int32))["params"]
  st = state_lib.TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
  batch = model_lib.make_batch([[1, 2, 3], [4, 5]], config.data.max_len)
  new, metrics = lm_train.train_step(st, batch, jax.random.PRNGKey(1), model=model, tx=tx)
  assert np.isfinite(float(metrics["loss"])) and int(new.step) == 1


def test_endpointer_config_builds_and_steps(tiny_data_dir):
  """experiments/endpointer.py (launch.train_endpointer): its own schema."""
  from asr import endpointing
  config = importlib.import_module("experiments.endpointer").get_config()
  assert config.train.steps > 0 and 0 < config.tune.max_revised < 1
  traces = endpointing._load_traces(  # pylint: disable=protected-access
      "tfds:voice_assistant/tiny:train", tiny_data_dir, 4, config.data.after_end_s,
      config.data.num_mel_bins, config.data.cmvn_block)
  _, params, losses = endpointing.train_on_traces(traces, config.model.hidden, 2, 4,
                                                  config.train.learning_rate, log_every=0)
  assert len(losses) == 2 and np.isfinite(losses).all()
