"""Trains the rescoring language model (:mod:`asr.lm.model`).

``train_and_evaluate(config, workdir)``: training text from :mod:`asr.lm.data`
(train transcripts + train-pool grammar samples) encoded with the
recognizer's SentencePiece model; fixed-shape batches ``[batch_size,
data.max_len]`` (one compilation); AdamW with warm-up + cosine decay and
global-norm clipping; cross-entropy per piece (end-of-sentence included).
Perplexity is measured on validation transcripts (never trained on).

Resume order: (1) the latest Orbax checkpoint in ``workdir/checkpoints``
(parameters, optimizer state, step); (2) else a fresh initialization from
``config.seed``. The batch of step ``s`` is a function of (seed, s), so a
resumed run sees the same data as an uninterrupted one.

Workdir: ``config.json``, ``tokenizer.model``, ``checkpoints/``,
``metrics.jsonl``, ``summary.json`` (the returned metrics).
"""

import functools
import json
import math
import os
import shutil
import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from asr.data import tokenizer as tokenizer_lib
from asr.lm import data as data_lib
from asr.lm import model as model_lib
from asr.training import state as state_lib

TOKENIZER_FILE = "tokenizer.model"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"


def model_config(config: ml_collections.ConfigDict, vocab_size: int) -> model_lib.LMConfig:
  m = config.model
  return model_lib.LMConfig(vocab_size=vocab_size, dim=m.dim, num_layers=m.num_layers,
                            num_heads=m.num_heads, mlp_dim=m.mlp_dim, max_len=m.max_len,
                            dropout=m.dropout)


def resolve_tokenizer(config: ml_collections.ConfigDict, workdir: str) -> tokenizer_lib.Tokenizer:
  """The workdir's tokenizer copy, else ``data.tokenizer`` / the corpus's, copied in."""
  local = os.path.join(workdir, TOKENIZER_FILE)
  if not os.path.exists(local):
    path = config.data.tokenizer
    if not path:
      from asr.data import prepare  # pylint: disable=g-import-not-at-top
      path = tokenizer_lib.tokenizer_path(prepare.dataset_dir(config.data.data_dir, config.data.corpus),
                                          config.data.vocab_size)
    os.makedirs(workdir, exist_ok=True)
    shutil.copyfile(path, local)
  return tokenizer_lib.Tokenizer(local)


def make_optimizer(t: ml_collections.ConfigDict):
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=t.learning_rate / max(t.warmup_steps, 1), peak_value=t.learning_rate,
      warmup_steps=t.warmup_steps, decay_steps=max(t.num_steps, t.warmup_steps + 1), end_value=0.0)
  decay_mask = lambda params: jax.tree_util.tree_map(lambda x: x.ndim >= 2, params)
  tx = optax.chain(optax.clip_by_global_norm(t.grad_clip),
                   optax.adamw(schedule, weight_decay=t.weight_decay, mask=decay_mask))
  return tx, schedule


def loss_fn(params, model, batch, rng=None):
  """Mean cross-entropy per real target piece (nats)."""
  train = rng is not None
  logits = model.apply({"params": params}, batch["inputs"], train=train,
                       rngs={"dropout": rng} if train else None)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
  w = batch["weights"]
  return jnp.sum(ce * w) / jnp.maximum(jnp.sum(w), 1.0)


@functools.partial(jax.jit, static_argnames=("model", "tx"), donate_argnums=(0,))
def train_step(state: state_lib.TrainState, batch: dict, rng, *, model, tx):
  rng = jax.random.fold_in(rng, state.step)
  loss, grads = jax.value_and_grad(loss_fn)(state.params, model, batch, rng)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {"loss": loss, "l2_grads": optax.global_norm(grads),
             "l2_params": optax.global_norm(params), "l2_updates": optax.global_norm(updates)}
  return state_lib.TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics


class Batches:
  """Step -> batch, a function of (seed, step): epoch-wise permutations of the sentences."""

  def __init__(self, seqs: list[list[int]], batch_size: int, max_len: int, seed: int):
    self.seqs, self.batch_size, self.max_len, self.seed = seqs, batch_size, max_len, seed
    self.per_epoch = max(1, len(seqs) // batch_size)
    self._perm_epoch, self._perm = -1, None

  def __call__(self, step: int) -> dict:
    epoch, k = divmod(step, self.per_epoch)
    if epoch != self._perm_epoch:
      self._perm = np.random.default_rng((self.seed, epoch)).permutation(len(self.seqs))
      self._perm_epoch = epoch
    idx = self._perm[k * self.batch_size:(k + 1) * self.batch_size]
    return model_lib.make_batch([self.seqs[i] for i in idx], self.max_len)


def evaluate_perplexity(model, params, seqs: list[list[int]], num_words: int, max_len: int,
                        batch_size: int = 256) -> dict:
  """Per-piece and per-word perplexity (end-of-sentence counted as a piece and a word)."""
  total, count = 0.0, 0
  fn = jax.jit(lambda p, b: model_lib.token_logprobs(model, p, b["inputs"], b["targets"]))
  for i in range(0, len(seqs), batch_size):
    chunk = seqs[i:i + batch_size]
    b = model_lib.make_batch(chunk + [[]] * (batch_size - len(chunk)), max_len)
    lp = np.asarray(fn(params, b)) * b["weights"]
    total += float(lp[:len(chunk)].sum())
    count += int(b["weights"][:len(chunk)].sum())
  n_sent = len(seqs)
  return {"nll_per_piece": -total / max(count, 1), "ppl_piece": math.exp(-total / max(count, 1)),
          "ppl_word": math.exp(-total / max(num_words + n_sent, 1))}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from ``workdir``), measures validation perplexity; returns metrics."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  tok = resolve_tokenizer(config, workdir)
  d, t = config.data, config.train
  t0 = time.time()
  texts = data_lib.training_texts(d.corpus, d.data_dir, d.grammar_samples, d.grammar_users,
                                  config.seed, d.train_limit or None)
  seqs = [tok.encode(s) for s in texts]
  logging.info("LM training text: %d sentences (%d pieces) in %.1fs", len(seqs),
               sum(map(len, seqs)), time.time() - t0)
  if d.max_len > config.model.max_len:
    raise ValueError(f"data.max_len={d.max_len} exceeds model.max_len={config.model.max_len}")

  mcfg = model_config(config, tok.vocab_size)
  model = model_lib.TransformerLM(mcfg)
  tx, schedule = make_optimizer(t)
  rng = jax.random.PRNGKey(config.seed)
  init_rng, step_rng = jax.random.split(rng)
  params = model.init(init_rng, jnp.zeros((1, d.max_len), jnp.int32))["params"]
  state = state_lib.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                               opt_state=tx.init(params))
  mngr = ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, "checkpoints")),
      options=ocp.CheckpointManagerOptions(max_to_keep=t.keep_checkpoints, create=True))
  start = 0
  if mngr.latest_step() is not None:
    start = mngr.latest_step()
    state = mngr.restore(start, args=ocp.args.StandardRestore(state))
    logging.info("resumed from step %d", start)
  batches = Batches(seqs, t.batch_size, d.max_len, config.seed)
  step_fn = functools.partial(train_step, model=model, tx=tx)
  max_seconds = t.max_minutes * 60 if t.max_minutes else float("inf")
  jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
  t_start = t_log = time.time()
  step, metrics, first_loss = start, {}, None
  try:
    while step < t.num_steps:
      state, m = step_fn(state, batches(step), step_rng)
      step += 1
      if step % t.log_every == 0 or step == t.num_steps or step == start + 1:
        m = {k: float(v) for k, v in m.items()}
        if not np.isfinite(m["loss"]):
          raise FloatingPointError(f"non-finite LM loss at step {step}; last good checkpoint: "
                                   f"step {mngr.latest_step()}. Lower train.learning_rate.")
        first_loss = m["loss"] if first_loss is None else first_loss
        m.update(lr=float(schedule(step)), steps_per_sec=t.log_every / max(time.time() - t_log, 1e-9),
                 elapsed_min=(time.time() - t_start) / 60)
        jsonl.write(json.dumps({"step": step, **m}) + "\n")
        jsonl.flush()
        logging.info("step %d: %s", step, {k: round(v, 4) for k, v in m.items()})
        t_log, metrics = time.time(), m
      out_of_time = time.time() - t_start > max_seconds
      if step % t.checkpoint_every == 0 or step == t.num_steps or out_of_time:
        mngr.save(step, args=ocp.args.StandardSave(state))
      if out_of_time:
        logging.warning("train.max_minutes=%s reached at step %d; stopping", t.max_minutes, step)
        break
  finally:
    mngr.wait_until_finished()
    jsonl.close()
  train_minutes = (time.time() - t_start) / 60
  out = {"step": step, "train_minutes": train_minutes, "final_loss": metrics.get("loss"),
         "first_loss": first_loss, "num_params": model_lib.count_params(state.params),
         "num_train_sentences": len(seqs), "num_grammar_sentences": d.grammar_samples,
         "vocab_size": tok.vocab_size}
  if d.eval_utterances:
    val = data_lib.split_transcripts(f"tfds:voice_assistant/{d.corpus}:validation", d.data_dir,
                                     d.eval_utterances)
    ppl = evaluate_perplexity(model, state.params, [tok.encode(s) for s in val],
                              sum(len(s.split()) for s in val), config.model.max_len)
    out.update({f"val_{k}": v for k, v in ppl.items()}, num_val_sentences=len(val))
    logging.info("validation: %s", ppl)
  with open(os.path.join(workdir, SUMMARY_FILE), "w") as f:
    json.dump(out, f, indent=2)
  return out
