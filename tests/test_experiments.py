"""Every experiment config instantiates and runs one training step on tiny data."""

import functools
import glob
import importlib
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

EXPERIMENTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "*.py"))
    if not p.endswith("__init__.py") and not p.endswith("default.py")
    and not os.path.basename(p).startswith("lm_")
    # end-of-query models (endpointer*.py): tests/test_endpointing.py
    and not os.path.basename(p).startswith("endpointer"))
# Language-model configs (launch.train_lm): their own schema, their own test below.
LM_EXPERIMENTS = sorted(os.path.basename(p)[:-3] for p in glob.glob(
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments", "lm_*.py")))


@pytest.fixture(autouse=True)
def _release_programs_per_test():
  """This module compiles a training step for every config group: dropping
  the compiled programs after each test (conftest does it per module) keeps
  the process under the kernel's memory-mapping limit (a segfault in XLA's
  compilation-cache write otherwise, seen after three more branching configs)."""
  yield
  jax.clear_caches()


def test_all_experiments_listed():
  assert {"tiny", "small", "medium", "base", "teacher", "catt_small", "librispeech_960",
          "small_mid", "catt_small_mid"} <= set(EXPERIMENTS)


def test_quickstart_chains_are_consistent():
  """Each corpus choice of launch/quickstart.sh names a transducer config
  trained on that corpus and a CATT config warm-started from its workdir on
  the same corpus (the tokenizers must match)."""
  import re
  root = os.path.dirname(os.path.dirname(__file__))
  with open(os.path.join(root, "launch", "quickstart.sh"), encoding="utf-8") as f:
    script = f.read()
  chains = re.findall(r"(\w+)\) SMALL_CONFIG=(\w+); CATT_CONFIG=(\w+)", script)
  default = re.search(r"CORPUS=\$\{CORPUS:-(\w+)\}", script).group(1)
  assert {c for c, _, _ in chains} == {"mid", "small"} and default == "mid", (chains, default)
  for corpus, small_name, catt_name in chains:
    small = importlib.import_module(f"experiments.{small_name}").get_config()
    catt = importlib.import_module(f"experiments.{catt_name}").get_config()
    assert small.data.corpus == corpus and catt.data.corpus == corpus, (corpus, small_name, catt_name)
    assert catt.train.init_from == f"workdirs/{small_name}" and catt.model.biasing.enabled
    assert small.train.max_minutes == 30.0 and not small.model.biasing.enabled


# Fields that never change the structure of the compiled training step: the
# data pipeline (corpus, buckets, CMVN, augmentation done on the host, context
# sampling), schedule and optimizer constants, bookkeeping and evaluation.
_NOT_IN_STEP = {
    "": {"seed", "eval"},
    "data": {"corpus", "data_dir", "train", "validation", "vocab_size", "tokenizer", "cmvn",
             "train_trailing_s", "max_train_utterances", "num_buckets", "batch_frames",
             "skip_bad", "talker_mix", "context", "num_mel_bins"},
    "train": {"num_steps", "max_minutes", "init_from", "learning_rate", "warmup_steps",
              "end_lr_ratio", "weight_decay", "b1", "b2", "clip_norm", "log_every",
              "eval_every", "eval_utterances", "checkpoint_every", "keep_checkpoints"},
}


def _step_config(config):
  """The config as one test step runs it: at most 2 encoder blocks (and 2 in
  the expensive branch) and widths capped, so the GPU-scale configs compile
  and step in seconds on CPU. Every kind, flag and loss option is kept."""
  c = ml_collections.ConfigDict(config.to_dict())
  e = c.model.encoder
  e.num_layers = min(e.num_layers, 2)
  e.num_heads = min(e.num_heads, 4)
  e.dim = min(e.dim, 16 * e.num_heads)
  e.subsample_channels = min(e.subsample_channels, 16)
  e.branching.expensive_layers = min(e.branching.expensive_layers, 2)
  e.branching.cheap_rank = min(e.branching.cheap_rank, 8)
  e.branching.router_hidden = min(e.branching.router_hidden, 16)
  c.model.predictor.embed_dim = min(c.model.predictor.embed_dim, 32)
  c.model.predictor.hidden = min(c.model.predictor.hidden, 64)
  c.model.joint_dim = min(c.model.joint_dim, 64)
  b = c.model.biasing
  b.embed_dim = min(b.embed_dim, 32)
  b.num_heads = min(b.num_heads, 2)
  b.dim = min(b.dim, 16 * b.num_heads)
  return c


def _signature(config):
  """What decides the compiled step's program: configs with equal signatures
  differ only in constants or host-side fields, so one step covers them."""
  d = _step_config(config).to_dict()
  for section, fields in _NOT_IN_STEP.items():
    for k in fields:
      (d[section] if section else d).pop(k)
  # Sizes and initial values: widths, head counts, kernel and attention-window
  # lengths, the router's initial bias, the wake-word crop (the tiny configs
  # differ from the small ones only in these).
  enc = d["model"]["encoder"]
  for k in ("dim", "num_heads", "ffn_mult", "conv_kernel", "left_context", "subsample_channels"):
    enc.pop(k)
  enc["branching"].pop("router_init_bias")
  for k in ("embed_dim", "dim", "num_heads"):
    d["model"]["biasing"].pop(k)
  d["data"]["stream_context"].pop("max_seconds")
  d["data"]["stream_context"].pop("align")  # host-side: how much of the wake segment
  # Values that only scale or shape the same program: the hard-route,
  # backfill and hold thresholds (only "on or not" is structure), the chunk size (only
  # "streaming or not": 160 and 320 ms chunks run the same code), the
  # FastEmit weight (only "on or not"), the pruned loss's warm-up length.
  br = d["model"]["encoder"]["branching"]
  br["train_threshold"] = br["train_threshold"] > 0
  br["backfill_threshold"] = br["backfill_threshold"] > 0
  br["hold_threshold"] = br["hold_threshold"] > 0
  d["model"]["encoder"]["chunk_size"] = d["model"]["encoder"]["chunk_size"] > 0
  d["train"]["fastemit_lambda"] = d["train"]["fastemit_lambda"] > 0
  d["train"]["pruned"].pop("warmup_steps", None)
  return json.dumps(d, sort_keys=True, default=str)


def _configs():
  return {n: importlib.import_module(f"experiments.{n}").get_config() for n in EXPERIMENTS}


def _step_groups():
  """[(representative, [names sharing its step program])], in name order."""
  groups = {}
  for name, config in _configs().items():
    groups.setdefault(_signature(config), []).append(name)
  return [(names[0], names) for names in groups.values()]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_builds(name):
  """Every config instantiates and its full-size model builds (shapes only)."""
  from asr.training import state as state_lib
  config = importlib.import_module(f"experiments.{name}").get_config()
  assert config.train.num_steps > 0 and config.model.encoder.dim % config.model.encoder.num_heads == 0
  tx, _ = state_lib.make_optimizer(config.train)
  full = jax.eval_shape(functools.partial(state_lib.create_train_state, jax.random.PRNGKey(0),
                                          state_lib.model_config(config, config.data.vocab_size), tx))
  n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(full.params))
  assert n_params > 0
  if name == "teacher":
    assert n_params >= 30e6, n_params  # the "cloud" model of the compression issues


def test_step_groups_cover_every_config_and_split_on_structure():
  groups = _step_groups()
  assert sorted(n for _, names in groups for n in names) == EXPERIMENTS
  configs = _configs()
  # Structural options land in different groups; constants do not.
  def group_of(name):
    return next(rep for rep, names in groups if name in names)
  # Corpus, depth, width, learning rate, warm start, steps: constants here.
  assert group_of("medium") == group_of("small_ft")
  # Hard training routes at another threshold: a constant; hard or relaxed routes: structure.
  assert group_of("branching_small_frvp_c2h4") == group_of("branching_small_frvp_c2h")
  assert group_of("branching_small_frvp_c2h") != group_of("branching_small_frvp_c2")
  # Chunk size and the pruned loss's warm-up: constants; the onset backfill: structure.
  assert group_of("small_ft_c2") == group_of("small_ft")
  assert group_of("branching_small_frvp_c2h") == group_of("branching_small_frvp_h")
  assert group_of("branching_small_frvp_c2hb") != group_of("branching_small_frvp_c2h")
  assert group_of("small_ft_pruned") == group_of("medium_mid")
  assert group_of("small_ft_talker") == group_of("small_ft")  # host-side augmentation
  for other in ("small", "small_ft_fastemit", "small_ft_pruned", "context_small", "catt_small",
                "branching_small", "teacher"):  # loss form, FastEmit, context, biasing, ...
    assert group_of(other) != group_of("small_ft"), other
  assert group_of("catt_medium") == group_of("catt_small")
  # Sizes: the tiny configs share the small ones' programs, 960 h shares 100 h's.
  for tiny, small in (("tiny", "small_ft"), ("catt_tiny", "catt_small"),
                      ("context_tiny", "context_small"), ("branching_tiny", "branching_small"),
                      ("librispeech_960", "librispeech_100")):
    assert group_of(tiny) == group_of(small), (tiny, small)
  assert group_of("base") != group_of("librispeech_100")  # 8x against 4x subsampling
  assert group_of("catt_pointer_medium") != group_of("catt_medium")  # the pointer
  assert configs["small_ft_fastemit"].train.fastemit_lambda > 0


@pytest.mark.parametrize("name,members", _step_groups(),
                         ids=lambda v: "+".join(v) if isinstance(v, list) else None)
def test_config_steps(name, members, tiny_data_dir, tiny_tokenizer_path):
  """One training step of each distinct step program on tiny data."""
  from asr.data import pipeline, sources, tokenizer
  from asr.models import transducer
  from asr.training import state as state_lib
  from asr.training import train
  del members  # in the test id
  config = _step_config(importlib.import_module(f"experiments.{name}").get_config())
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  tx, _ = state_lib.make_optimizer(config.train)
  mcfg = state_lib.model_config(config, tok.vocab_size)
  model = transducer.Transducer(mcfg)
  # Jitted: the eager init of every layer op by op takes longer than its compile.
  st = jax.jit(lambda k: state_lib.create_train_state(k, mcfg, tx))(jax.random.PRNGKey(0))
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  utts = pipeline.prepare_utterances(src, tok, 0.3, limit=2)
  bucket = pipeline.Bucket(max(len(u.feats) for u in utts) // 32 * 32 + 32, 16, 2, (0, 1))
  batch = pipeline.collate(utts, [0, 1], bucket, speech_spans=train.needs_speech_spans(config))
  if config.model.biasing.enabled:
    phrases = pipeline.PhraseTokens(tok)
    lists = [["zoe muller", "reading lamp"], []]
    batch.update(phrases.pad(lists, 4))
    if config.model.biasing.pointer:
      from asr.biasing import pointer as pointer_lib
      arr = pointer_lib.training_arrays([u.labels for u in utts],
                                        [[phrases.ids(p) for p in l] for l in lists], 16,
                                        config.data.context.max_pointer_cands)
      batch.update(ptr_cands=arr["ptr_cands"], ptr_target=arr["ptr_target"])
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


@pytest.mark.parametrize("name", ["endpointer", "endpointer_lm", "endpointer_40ms"])
def test_endpointer_config_builds_and_steps(tiny_data_dir, name):
  """experiments/endpointer*.py (launch.train_endpointer): their own schema."""
  from asr import endpointing
  config = importlib.import_module(f"experiments.{name}").get_config()
  assert config.train.steps > 0 and 0 < config.tune.max_revised < 1
  assert config.data.pool in (2, 4, 8) and config.tune.final_hold_frames >= 0
  traces = endpointing._load_traces(  # pylint: disable=protected-access
      "tfds:voice_assistant/tiny:train", tiny_data_dir, 4, config.data.after_end_s,
      config.data.num_mel_bins, config.data.cmvn_block, config.data.pool)
  f, t, _ = traces[0]
  assert len(f) == len(t) and np.allclose(np.diff(t), config.data.pool * 0.01)
  _, params, losses = endpointing.train_on_traces(traces, config.model.hidden, 2, 4,
                                                  config.train.learning_rate, log_every=0)
  assert len(losses) == 2 and np.isfinite(losses).all()
