"""Model construction from configs, optimizer, train state and workdir files."""

import functools
import json
import logging
import os
import re
import shutil

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from asr.biasing import attention as bias_lib
from asr.data import tokenizer as tokenizer_lib
from asr.models import branching as branching_lib
from asr.models import encoder as encoder_lib
from asr.models import transducer


def model_config(config: ml_collections.ConfigDict, vocab_size: int) -> transducer.TransducerConfig:
  m = config.model
  enc = m.encoder.to_dict()
  enc["branching"] = branching_lib.BranchingConfig(**enc.get("branching", {}))
  return transducer.TransducerConfig(
      encoder=encoder_lib.EncoderConfig(**enc),
      predictor=transducer.PredictorConfig(**m.predictor.to_dict()),
      joint_dim=m.joint_dim, vocab_size=vocab_size,
      num_mel_bins=config.data.num_mel_bins,
      biasing=bias_lib.BiasingConfig(**m.biasing.to_dict()) if "biasing" in m
      else bias_lib.BiasingConfig(),
      ctc_head=config.train.get("ctc_weight", 0.0) > 0,
      simple_joint=config.train.get("loss_impl", "fused") == "pruned")


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: flax.core.FrozenDict
  opt_state: optax.OptState


@flax.struct.dataclass
class EmaTrainState(TrainState):
  """TrainState plus the exponential moving average of the parameters
  (``train.ema_decay > 0``); a separate class, so that runs without it keep
  their checkpoint layout."""
  ema: flax.core.FrozenDict


def ema_decay_at(decay: float, step):
  """The moving average's decay at (0-based) ``step``: ``decay`` capped by
  (1 + step) / (10 + step), so that the first steps' random parameters leave
  the average quickly."""
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def update_ema(ema, params, decay: float, step):
  """ema <- d * ema + (1 - d) * params, d = ema_decay_at(decay, step)."""
  d = ema_decay_at(decay, step)
  return jax.tree_util.tree_map(lambda e, p: d * e + (1.0 - d) * p, ema, params)


def eval_params(state: TrainState):
  """The parameters a run is evaluated and exported with: the moving average
  when kept, else the trained parameters."""
  return getattr(state, "ema", state.params)


def with_params(state: TrainState, params, tx) -> TrainState:
  """A fresh state (step 0, new optimizer state; the average restarts at
  ``params``) of the same kind as ``state``: warm starts."""
  if isinstance(state, EmaTrainState):
    return EmaTrainState(step=state.step, params=params, opt_state=tx.init(params), ema=params)
  return TrainState(step=state.step, params=params, opt_state=tx.init(params))


def make_optimizer(t: ml_collections.ConfigDict) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """AdamW with linear warm-up, cosine decay and global-norm clipping
  (``train.clip_separately``: two clipping groups).

  The warm-up starts at learning_rate / warmup_steps, not 0, so that the very
  first step already moves the parameters.
  """
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=t.learning_rate / max(t.warmup_steps, 1), peak_value=t.learning_rate, warmup_steps=t.warmup_steps,
      decay_steps=max(t.num_steps, t.warmup_steps + 1),
      end_value=t.learning_rate * t.end_lr_ratio)
  decay_mask = lambda params: jax.tree_util.tree_map(lambda x: x.ndim >= 2, params)
  tx = optax.chain(
      gradient_clipping(t),
      optax.adamw(schedule, b1=t.b1, b2=t.b2, weight_decay=t.weight_decay, mask=decay_mask))
  pattern = t.get("trainable", "")
  if pattern:
    # Frozen parameters get a zero update (no decay either); the clipping
    # norm is that of the trained parameters' gradients.
    tx = optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()},
                               functools.partial(trainable_labels, pattern))
  return tx, schedule


def gradient_clipping(t: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Global-norm clipping to ``t.clip_norm``; with ``t.clip_separately`` (a
  regular expression over '/'-joined parameter paths) the parameters it
  matches and the others are two groups, each clipped by its own norm, so
  that large gradients of the first (a fresh router under an auxiliary
  target) cannot scale down the step of the second."""
  separate = t.get("clip_separately", "")
  if not separate:
    return optax.clip_by_global_norm(t.clip_norm)
  # trainable_labels names the matched leaves "train", the others "frozen":
  # here just the two groups.
  return optax.multi_transform(
      {"train": optax.clip_by_global_norm(t.clip_norm),
       "frozen": optax.clip_by_global_norm(t.clip_norm)},
      functools.partial(trainable_labels, separate, field="train.clip_separately"))


def trainable_labels(pattern: str, params, field: str = "train.trainable"):
  """"train" / "frozen" per leaf of ``params``: whether ``pattern``
  (``train.trainable``) matches the leaf's '/'-joined path. Raises if it
  matches nothing (a typo would silently train nothing)."""
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  rx = re.compile(pattern)
  # The same '/'-joined names as warm_start's log of copied tensors.
  labels = traverse_util.path_aware_map(
      lambda path, _: "train" if rx.search("/".join(path)) else "frozen", params)
  if "train" not in jax.tree_util.tree_leaves(labels):
    raise ValueError(f"{field}={pattern!r} matches no parameter")
  return labels


def create_train_state(rng, mcfg: transducer.TransducerConfig, tx, ema: bool = False) -> TrainState:
  params = transducer.init_params(mcfg, rng)
  step = jnp.zeros((), jnp.int32)
  if ema:
    return EmaTrainState(step=step, params=params, opt_state=tx.init(params), ema=params)
  return TrainState(step=step, params=params, opt_state=tx.init(params))


def uses_ema(config) -> bool:
  return config.train.get("ema_decay", 0.0) > 0


# --- workdir files: everything evaluation needs besides the checkpoint --------

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.model"
NORM_FILE = "feature_stats.npz"


def resolve_tokenizer(config: ml_collections.ConfigDict, workdir: str) -> tokenizer_lib.Tokenizer:
  """The run's tokenizer: the workdir copy if present, else the data's (trained
  from the training transcripts if missing), copied into the workdir."""
  local = os.path.join(workdir, TOKENIZER_FILE)
  if os.path.exists(local):
    return tokenizer_lib.Tokenizer(local)
  path = config.data.tokenizer
  if not path:
    spec = train_spec(config)
    if spec.startswith("tfds:"):
      from asr.data import prepare  # pylint: disable=g-import-not-at-top
      ds_dir = prepare.dataset_dir(config.data.data_dir, config.data.corpus)
      path = tokenizer_lib.tokenizer_path(ds_dir, config.data.vocab_size)
    else:  # a manifest: the tokenizer lives beside it
      path = f"{spec}.spm_unigram{config.data.vocab_size}.model"
    if not os.path.exists(path):
      from asr.data import sources  # pylint: disable=g-import-not-at-top
      src = sources.open_source(train_spec(config), config.data.data_dir)
      tokenizer_lib.train_tokenizer((src[i]["text"] for i in range(len(src))), path,
                                    config.data.vocab_size)
  os.makedirs(workdir, exist_ok=True)
  shutil.copyfile(path, local)
  return tokenizer_lib.Tokenizer(local)


def train_spec(config) -> str:
  return config.data.train or f"tfds:voice_assistant/{config.data.corpus}:train"


def split_spec(config, split: str) -> str:
  """A split name of the config's corpus, or a manifest path / full spec as is."""
  if split.endswith(".jsonl") or split.startswith("tfds:"):
    return split
  if split == "validation" and config.data.validation:
    return config.data.validation
  return f"tfds:voice_assistant/{config.data.corpus}:{split}"


def save_config(config, workdir: str):
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
    f.write(config.to_json_best_effort(indent=2))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: is {workdir} a training workdir?")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def save_norm(workdir: str, mean: np.ndarray, std: np.ndarray):
  np.savez(os.path.join(workdir, NORM_FILE), mean=mean, std=std)


def load_norm(workdir: str) -> tuple[np.ndarray, np.ndarray] | None:
  path = os.path.join(workdir, NORM_FILE)
  if not os.path.exists(path):
    return None
  z = np.load(path)
  return z["mean"], z["std"]


def restore_for_inference(workdir: str, step: int | None = None, raw: bool = False):
  """(config, model, params, norm, tokenizer) of a training workdir.

  Restores the checkpoint at ``step`` (default: latest) into the exact train
  state structure, then keeps the parameters (the moving average when the
  run kept one, ``train.ema_decay``; ``raw``: the trained parameters instead,
  what the same run without averaging would have ended with).
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  config = load_config(workdir)
  tokenizer = tokenizer_lib.Tokenizer(os.path.join(workdir, TOKENIZER_FILE))
  norm = load_norm(workdir)
  if norm is None:
    raise FileNotFoundError(f"{workdir}/{NORM_FILE} missing: was training started here?")
  mcfg = model_config(config, tokenizer.vocab_size)
  tx, _ = make_optimizer(config.train)
  abstract = jax.eval_shape(lambda: create_train_state(jax.random.PRNGKey(0), mcfg, tx,
                                                      uses_ema(config)))
  mngr = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")))
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints")
  state = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
  model = transducer.Transducer(mcfg)
  params = state.params if raw else eval_params(state)
  return config, model, params, (jnp.asarray(norm[0]), jnp.asarray(norm[1])), tokenizer, step


def warm_start(params, init_workdir: str):
  """Copies every parameter of ``init_workdir``'s latest checkpoint whose
  path and shape match into ``params`` (a fresh initialization); the rest
  (e.g. a new biasing module) keep their initial values.

  Returns (params, copied_paths, fresh_paths).
  """
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  _, _, src, _, _, step = restore_for_inference(init_workdir)
  src_flat = traverse_util.flatten_dict(flax.core.unfreeze(src))
  flat = traverse_util.flatten_dict(flax.core.unfreeze(params))
  copied, fresh = [], []
  for k, v in flat.items():
    w = src_flat.get(k)
    if w is not None and tuple(w.shape) == tuple(v.shape):
      flat[k] = jnp.asarray(w, v.dtype)
      copied.append("/".join(k))
    else:
      fresh.append("/".join(k))
  if not copied:
    raise ValueError(f"train.init_from={init_workdir!r}: no parameter matches this model")
  logging.info("warm start from %s step %d: %d tensors copied, %d fresh (%s)", init_workdir,
               step, len(copied), len(fresh), ", ".join(fresh[:8]))
  out = traverse_util.unflatten_dict(flat)
  return (flax.core.freeze(out) if isinstance(params, flax.core.FrozenDict) else out), copied, fresh
