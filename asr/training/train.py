"""``train_and_evaluate``: the training loop of every experiment.

Data-parallel over local devices with ``jax.pmap``: each device computes the
gradient of its shard's summed RNN-T loss divided by the *global* label count,
and ``lax.psum`` adds them, so one device and N devices give the same update
(tested). Multi-host runs call ``jax.distributed.initialize()`` in the
launcher; each process then feeds its own slice of every global batch.

Resume order (on start, if ``workdir/checkpoints`` has a step): restore
params, optimizer state and step; the data stream restarts at that step
(batch order is a function of seed and step, see ``asr.data.pipeline``); the
feature statistics and tokenizer are read back from the workdir.
"""

import functools
import json
import logging
import os
import shutil
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from asr.data import features as features_lib
from asr.data import pipeline
from asr.losses import pruned as pruned_lib
from asr.losses import rnnt
from asr.models import branching as branching_lib
from asr.models import transducer
from asr.training import state as state_lib


class MetricWriter:
  """JSON lines + TensorBoard, from process 0 only."""

  def __init__(self, workdir: str):
    self.enabled = jax.process_index() == 0
    if not self.enabled:
      return
    self.jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self.tb = SummaryWriter(os.path.join(workdir, "tb"))

  def write(self, step: int, metrics: dict):
    if not self.enabled:
      return
    self.jsonl.write(json.dumps({"step": int(step), **{k: _py(v) for k, v in metrics.items()}}) + "\n")
    self.jsonl.flush()
    for k, v in metrics.items():
      if isinstance(v, (int, float, np.floating, np.integer)) and v is not None:
        self.tb.add_scalar(k, float(v), int(step))
    self.tb.flush()

  def close(self):
    if self.enabled:
      self.jsonl.close()
      self.tb.close()


def _py(v):
  if isinstance(v, (np.floating, np.integer)):
    return v.item()
  if isinstance(v, jax.Array):
    return np.asarray(v).item()
  return v


def normalize(feats, lengths, mean, std, from_end: bool = False):
  """(feats - mean) / std on valid frames, zeros on padding. [B, T, F].

  Valid frames are the first ``lengths`` ones, or with ``from_end`` those from
  index ``lengths`` on (right-aligned stream context, ``wake_feats``)."""
  t = jnp.arange(feats.shape[1])[None, :]
  valid = t >= lengths[:, None] if from_end else t < lengths[:, None]
  return jnp.where(valid[..., None], (feats - mean) / std, 0.0)


def perturb_strength(sa: ml_collections.ConfigDict, step):
  """Scale in [0, 1] of the speed / vocal-tract perturbation ranges at ``step``:
  0 before ``sa.perturb_ramp[0]``, rising linearly to 1 at ``sa.perturb_ramp[1]``
  (equal or absent: 1 throughout)."""
  start, end = (float(x) for x in sa.get("perturb_ramp", (0, 0)))
  if end <= start:
    return jnp.where(step >= start, 1.0, 0.0) if start > 0 else 1.0
  return jnp.clip((step - start) / (end - start), 0.0, 1.0)


def train_step(state: state_lib.TrainState, batch: dict, rng, *, model, tx, mean, std,
               cfg: ml_collections.ConfigDict, axis_name: str = "batch"):
  """One data-parallel step (inside pmap). batch arrays are per-device shards."""
  t = cfg.train
  rng = jax.random.fold_in(rng, state.step)
  aug_rng, drop_rng = jax.random.split(rng)
  b = batch["feats"].shape[0]
  dev = jax.lax.axis_index(axis_name)
  # Per-example keys from the global example index: the same augmentation
  # whatever the device count.
  keys = jax.vmap(lambda i: jax.random.fold_in(aug_rng, i))(dev * b + jnp.arange(b))
  feats = normalize(batch["feats"], batch["feat_lengths"], mean, std)
  feat_lengths = batch["feat_lengths"]
  if t.spec_augment.enabled:
    sa = t.spec_augment
    strength = perturb_strength(sa, state.step)
    if sa.get("speed_range", 0.0) > 0:
      feats, feat_lengths = jax.vmap(lambda k, f, l: jax.tree.map(
          lambda x: x[0], features_lib.speed_perturb(jax.random.fold_in(k, 1), f[None], l[None],
                                                     sa.speed_range * strength)))(
                                                         keys, feats, feat_lengths)
    if sa.get("freq_warp", 0.0) > 0:
      feats = jax.vmap(lambda k, f: features_lib.freq_warp(
          jax.random.fold_in(k, 2), f[None], sa.freq_warp * strength)[0])(keys, feats)
    feats = jax.vmap(lambda k, f, l: features_lib.spec_augment(
        k, f[None], l[None], sa.num_freq_masks, sa.freq_mask_width, sa.time_masks_per_100,
        sa.max_time_masks, sa.time_mask_ratio)[0])(keys, feats, feat_lengths)
  drop_rng = jax.random.fold_in(drop_rng, dev)
  global_tokens = jax.lax.psum(jnp.sum(batch["label_lengths"]), axis_name)
  global_tokens = jnp.maximum(global_tokens, 1).astype(jnp.float32)

  context = None
  if "ctx_tokens" in batch:
    context = {"tokens": batch["ctx_tokens"], "lengths": batch["ctx_lengths"]}
  wake = None
  if "wake_feats" in batch:  # stream context: the wake-word segment, right-aligned
    tw = batch["wake_feats"].shape[1]
    wake = (normalize(batch["wake_feats"], tw - batch["wake_lengths"], mean, std, from_end=True),
            batch["wake_lengths"])
  branching = model.cfg.encoder.branching

  def loss_fn(params):
    out = model.apply({"params": params}, feats, feat_lengths, batch["labels"],
                      context, train=True, wake=wake, rngs={"dropout": drop_rng})
    joint_fn = lambda e, p: model.apply({"params": params}, e, p, method=transducer.Transducer.joint)
    arc_fn = None
    if "ptr_cands" in batch:  # tree-constrained pointer mixed into the output
      if t.loss_impl != "fused":
        raise ValueError("model.biasing.pointer trains with train.loss_impl='fused' only")
      cands = batch["ptr_cands"]
      arc_fn = lambda e, p, nl: model.apply(
          {"params": params}, e, p, nl, cands, cands > 0, batch["ptr_target"],
          method=transducer.Transducer.pointer_arcs)
    if t.loss_impl == "fused":  # never holds [B, T', U+1, V]
      nll = rnnt.rnnt_loss_fused(out["enc"], out["pred"], joint_fn, batch["labels"],
                                 out["enc_lengths"], batch["label_lengths"],
                                 time_chunk=t.loss_time_chunk, rnnt_type=t.rnnt_type,
                                 fastemit_lambda=t.get("fastemit_lambda", 0.0), arc_fn=arc_fn)
    elif t.loss_impl == "full":  # faster when the full joint fits in memory
      logits = joint_fn(out["enc"][:, :, None], out["pred"][:, None])
      nll = rnnt.rnnt_loss(logits, batch["labels"], out["enc_lengths"], batch["label_lengths"],
                           rnnt_type=t.rnnt_type, fastemit_lambda=t.get("fastemit_lambda", 0.0))
    elif t.loss_impl == "pruned":  # joint on a band of prune_range columns per frame
      pr = t.pruned
      nll, simple = pruned_lib.pruned_rnnt_loss(
          out["enc"], out["pred"], out["am"], out["lm"], joint_fn, batch["labels"],
          out["enc_lengths"], batch["label_lengths"], s_range=pr.s_range,
          fastemit_lambda=t.get("fastemit_lambda", 0.0))
      # The band follows the trivial joint's alignments, which start random
      # (and fresh on a warm start): the pruned term ramps 0.1 -> 1 over
      # pr.warmup_steps while the simple term trains.
      ramp = jnp.clip(state.step / max(pr.warmup_steps, 1), 0.0, 1.0)
      pruned_scale = 0.1 + 0.9 * ramp if pr.warmup_steps else 1.0
      extra_loss = pr.simple_scale * jnp.sum(simple) + (pruned_scale - 1.0) * jnp.sum(nll)
    else:
      raise ValueError(f"train.loss_impl must be 'fused', 'full' or 'pruned', got {t.loss_impl!r}")
    # During the first ctc_only_steps only the encoder's CTC loss trains.
    rnnt_scale = (state.step >= t.get("ctc_only_steps", 0)).astype(jnp.float32)
    loss = rnnt_scale * jnp.sum(nll) / global_tokens
    if t.loss_impl == "pruned":
      loss = loss + rnnt_scale * extra_loss / global_tokens
    if t.ctc_weight > 0:
      # Auxiliary CTC on the encoder: without it the transducer can settle in
      # the degenerate optimum of a strong prediction network (all labels at
      # the first frame, then blanks), ignoring the audio.
      t_enc = out["ctc"].shape[1]
      logit_pad = (jnp.arange(t_enc)[None] >= out["enc_lengths"][:, None]).astype(jnp.float32)
      label_pad = (jnp.arange(batch["labels"].shape[1])[None]
                   >= batch["label_lengths"][:, None]).astype(jnp.float32)
      ctc = optax.ctc_loss(out["ctc"], logit_pad, batch["labels"], label_pad)
      loss = loss + t.ctc_weight * jnp.sum(ctc) / global_tokens
    aux = {}
    if "ctx_targets" in batch and t.get("bias_guide_weight", 0.0) > 0 and "label_attn" in out:
      # Guided attention (Tang et al. 2024): the label-query biasing attention,
      # averaged over heads, should put its weight on the phrase that the next
      # label belongs to, and on the no-bias entry elsewhere.
      w = jnp.mean(out["label_attn"], axis=1)  # [B, U+1, N+1]
      tgt = batch["ctx_targets"]
      p_t = jnp.take_along_axis(w, tgt[..., None], axis=-1)[..., 0]
      valid = (jnp.arange(tgt.shape[1])[None] <= batch["label_lengths"][:, None]).astype(jnp.float32)
      # Balanced: name positions (~1/5 of the labels) weigh as much as the rest.
      in_name = valid * (tgt > 0)
      rest = valid - in_name
      gsum = lambda x: jnp.maximum(jax.lax.psum(jnp.sum(x), axis_name), 1.0)
      nll_t = -jnp.log(p_t + 1e-6)
      guide_name = jnp.sum(nll_t * in_name) / gsum(in_name)
      guide_rest = jnp.sum(nll_t * rest) / gsum(rest)
      loss = loss + t.bias_guide_weight * 0.5 * (guide_name + guide_rest)
      aux = {"bias_guide_loss": jax.lax.psum(0.5 * (guide_name + guide_rest), axis_name),
             "bias_attn_on_name": jax.lax.psum(jnp.sum(p_t * in_name), axis_name) / gsum(in_name),
             "bias_attn_off_name": jax.lax.psum(jnp.sum(p_t * rest), axis_name) / gsum(rest)}
    if branching.enabled:
      # Compute cost (asr.models.branching): lambda * expected encoder compute
      # relative to all-expensive, from the router's probabilities over the
      # valid chunks of the global batch.
      r = out["routing"]
      w = r["valid"].astype(jnp.float32)
      n = jnp.maximum(jax.lax.psum(jnp.sum(w), axis_name), 1.0)
      p_exp = jax.lax.psum(jnp.sum(branching_lib.p_expensive(r["logits"]) * w), axis_name) / n
      cost = branching_lib.relative_cost(model.cfg.encoder, p_exp, model.cfg.num_mel_bins)
      # Every device adds 1/num_devices of the term: the psum of gradients
      # then holds it once.
      penalty = branching_lib.cost_penalty(cost, branching.cost_target)
      loss = loss + branching.cost_weight * penalty / jax.lax.psum(1, axis_name)
      aux = {**aux, "router_p_expensive": p_exp, "compute_cost": cost,
             "frac_expensive": jax.lax.psum(jnp.sum(r["expensive"] * w), axis_name) / n}
      if branching.speech_weight > 0:  # router's speech target (branching.py)
        if "wake_feats" in batch:
          raise ValueError("branching.speech_weight with stream context is not supported")
        if "speech_span" not in batch:
          raise ValueError("branching.speech_weight > 0 needs batches with speech_span "
                           "(pipeline.collate(..., speech_spans=needs_speech_spans(config)))")
        enc = model.cfg.encoder
        chunk_s = enc.chunk_size * enc.subsample_factor * features_lib.HOP / features_lib.SAMPLE_RATE
        tgt, known = branching_lib.speech_targets(batch["speech_span"], r["logits"].shape[1],
                                                  chunk_s)
        wk = w * known[:, None]
        bce = branching_lib.router_speech_bce(r["logits"], tgt)
        nk = jnp.maximum(jax.lax.psum(jnp.sum(wk), axis_name), 1.0)
        speech = jax.lax.psum(jnp.sum(bce * wk), axis_name) / nk
        loss = loss + branching.speech_weight * speech / jax.lax.psum(1, axis_name)
        aux = {**aux, "router_speech_bce": speech}
      if branching.distill_weight > 0:  # cheap branch pulled toward the expensive one
        distill = (jax.lax.psum(jnp.sum(r["distill_err"]), axis_name)
                   / jnp.maximum(jax.lax.psum(jnp.sum(r["distill_ref"]), axis_name), 1e-6))
        loss = loss + branching.distill_weight * distill / jax.lax.psum(1, axis_name)
        aux = {**aux, "distill": distill}
    return loss, (nll, jnp.sum(nll) / global_tokens, aux)

  (loss, (nll, rnnt_loss, extra_metrics)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)
  grads = jax.lax.psum(grads, axis_name)
  loss = jax.lax.psum(loss, axis_name)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {
      "loss": loss,
      "rnnt_loss": jax.lax.psum(rnnt_loss, axis_name),
      "nll_per_utt": jax.lax.pmean(jnp.mean(nll), axis_name),
      "l2_grads": optax.global_norm(grads),
      "l2_params": optax.global_norm(params),
      "l2_updates": optax.global_norm(updates),
      **extra_metrics,
  }
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
  if isinstance(state, state_lib.EmaTrainState):
    new_state = new_state.replace(ema=state_lib.update_ema(state.ema, params, t.ema_decay, state.step))
  return new_state, metrics


def replicate(tree):
  """Copies a pytree to every local device, laid out exactly as pmap outputs
  are (flax's replicate uses another sharding, which makes the second call
  of a pmapped step recompile)."""
  n = jax.local_device_count()
  stacked = jax.tree_util.tree_map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)), tree)
  return jax.pmap(lambda x: x, axis_name="batch")(stacked)


def shard(batch: dict, num_devices: int) -> dict:
  return jax.tree_util.tree_map(lambda x: x.reshape((num_devices, -1) + x.shape[1:]), batch)


def _process_slice(batch: dict) -> dict:
  """This process's rows of a global batch (multi-host data parallelism)."""
  n, i = jax.process_count(), jax.process_index()
  if n == 1:
    return batch
  return jax.tree_util.tree_map(lambda x: np.array_split(x, n)[i], batch)


def talker_mix(config) -> pipeline.TalkerMix | None:
  """The config's competing-talker augmentation (``data.talker_mix``), or None."""
  tm = config.data.get("talker_mix")
  if not tm or not tm.get("prob"):
    return None
  return pipeline.TalkerMix(prob=float(tm.prob), snr_db=tuple(float(x) for x in tm.snr_db),
                            pieces=int(tm.get("pieces", 2)), seed=int(config.seed),
                            same_user=bool(tm.get("same_user", False)))


def needs_speech_spans(config) -> bool:
  """Whether training batches must carry ``speech_span`` (the branching
  router's speech target, ``model.encoder.branching.speech_weight``)."""
  br = config.model.encoder.get("branching", {})
  return bool(br.get("enabled", False)) and br.get("speech_weight", 0.0) > 0


def prepare_training_data(config, tokenizer):
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  src = sources.open_source(state_lib.train_spec(config), config.data.data_dir,
                            skip_bad=config.data.skip_bad)
  limit = config.data.max_train_utterances or None
  wake_frames, quantum = pipeline.stream_context_frames(config)
  utts = pipeline.prepare_utterances(src, tokenizer, config.data.train_trailing_s,
                                     config.data.num_mel_bins, limit=limit,
                                     cmvn=config.data.get("cmvn", "global"),
                                     wake_frames=wake_frames, wake_quantum=quantum,
                                     talker_mix=talker_mix(config))
  utts = [u for u in utts if len(u.labels) > 0]
  return utts, src.skipped


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from ``workdir`` if it holds checkpoints) and evaluates
  greedy WER on the validation split. Returns the final metrics."""
  from asr.evaluation import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  os.makedirs(workdir, exist_ok=True)
  state_lib.save_config(config, workdir)
  init_tok = os.path.join(config.train.get("init_from", ""), state_lib.TOKENIZER_FILE)
  local_tok = os.path.join(workdir, state_lib.TOKENIZER_FILE)
  if config.train.get("init_from") and os.path.exists(init_tok) and not os.path.exists(local_tok):
    shutil.copy(init_tok, local_tok)  # a warm start keeps its tokenizer
  tokenizer = state_lib.resolve_tokenizer(config, workdir)
  t0 = time.time()
  utts, skipped = prepare_training_data(config, tokenizer)
  if skipped:
    logging.warning("training manifest: %d bad line(s) skipped", len(skipped))
  norm = state_lib.load_norm(workdir)
  if norm is None and config.train.get("init_from"):
    # A warm start keeps the feature statistics its parameters were trained with.
    norm = state_lib.load_norm(config.train.init_from)
    if norm is None:
      raise FileNotFoundError(f"train.init_from={config.train.init_from!r} has no "
                              f"{state_lib.NORM_FILE}: is it a training workdir?")
    state_lib.save_norm(workdir, *norm)
  if norm is None:
    norm = pipeline.feature_stats(utts)
    state_lib.save_norm(workdir, *norm)
  mean, std = (jnp.asarray(x) for x in norm)
  logging.info("prepared %d training utterances in %.1fs", len(utts), time.time() - t0)

  num_devices = jax.local_device_count()
  global_devices = jax.device_count()
  buckets = pipeline.make_buckets(utts, config.data.batch_frames, config.data.num_buckets,
                                  multiple_of=global_devices)
  sampler = None
  if config.model.biasing.enabled:
    bc = config.data.context
    pool = sorted({p for u in utts for p in u.context})
    sampler = pipeline.ContextSampler(
        pool, pipeline.PhraseTokens(tokenizer, bc.max_phrase_len), bc.max_distractors,
        bc.keep_prob, bc.max_entities, config.seed,
        pointer_cands=bc.get("max_pointer_cands", 48) if config.model.biasing.get("pointer") else 0)
    logging.info("biasing: training name pool of %d phrases", len(pool))
  batches = pipeline.TrainBatches(
      utts, buckets, config.seed, sampler, wake_frames=pipeline.stream_context_frames(config)[0],
      speech_spans=needs_speech_spans(config))
  logging.info("buckets (T, U, B): %s; %d batches per epoch",
               [(b.max_frames, b.max_labels, b.batch_size) for b in buckets], batches.per_epoch)

  mcfg = state_lib.model_config(config, tokenizer.vocab_size)
  model = transducer.Transducer(mcfg)
  tx, schedule = state_lib.make_optimizer(config.train)
  rng = jax.random.PRNGKey(config.seed)
  init_rng, step_rng = jax.random.split(rng)
  state = state_lib.create_train_state(init_rng, mcfg, tx, state_lib.uses_ema(config))
  logging.info("model parameters: %d", transducer.count_params(state.params))

  mngr = ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, "checkpoints")),
      options=ocp.CheckpointManagerOptions(max_to_keep=config.train.keep_checkpoints, create=True))
  start = 0
  if mngr.latest_step() is not None:
    start = mngr.latest_step()
    state = mngr.restore(start, args=ocp.args.StandardRestore(state))
    logging.info("resumed from step %d", start)
  elif config.train.get("init_from"):
    params, _, _ = state_lib.warm_start(state.params, config.train.init_from)
    state = state_lib.with_params(state, params, tx)

  p_step = jax.pmap(functools.partial(train_step, model=model, tx=tx, mean=mean, std=std, cfg=config),
                    axis_name="batch", donate_argnums=(0,))
  p_state = replicate(state)
  step_rngs = replicate(step_rng)
  writer = MetricWriter(workdir)
  val_utts = None
  num_steps = config.train.num_steps
  max_seconds = config.train.max_minutes * 60 if config.train.max_minutes else float("inf")
  t_start = time.time()
  t_log, n_utts, n_audio = time.time(), 0, 0.0
  total_utts = 0
  step = start
  metrics = {}
  it = batches.iterate(start)
  try:
    while step < num_steps:
      batch = next(it)
      n_utts += len(batch["feat_lengths"])
      total_utts += len(batch["feat_lengths"])
      n_audio += float(batch["feat_lengths"].sum()) * features_lib.HOP / features_lib.SAMPLE_RATE
      p_state, m = p_step(p_state, shard(_process_slice(batch), num_devices), step_rngs)
      step += 1
      if step % config.train.log_every == 0 or step == num_steps:
        m = jax.tree_util.tree_map(lambda x: float(np.asarray(x)[0]), m)
        if not np.isfinite(m["loss"]):
          raise FloatingPointError(
              f"non-finite loss {m['loss']} at step {step} (l2_grads={m['l2_grads']}); "
              f"last good checkpoint: step {mngr.latest_step()}. Lower train.learning_rate "
              "or raise train.warmup_steps.")
        dt = time.time() - t_log
        elapsed = time.time() - t_start
        m.update(lr=float(schedule(step)), utts_per_sec=n_utts / dt,
                 audio_sec_per_sec=n_audio / dt, elapsed_min=elapsed / 60,
                 eta_min=(num_steps - step) * elapsed / max(1, step - start) / 60)
        writer.write(step, m)
        logging.info("step %d: %s", step, {k: round(v, 4) for k, v in m.items()})
        t_log, n_utts, n_audio = time.time(), 0, 0.0
        metrics = m
      out_of_time = time.time() - t_start > max_seconds
      if step % config.train.checkpoint_every == 0 or step == num_steps or out_of_time:
        mngr.save(step, args=ocp.args.StandardSave(jax.tree_util.tree_map(lambda x: x[0], p_state)))
      if (config.train.eval_every and step % config.train.eval_every == 0) or step == num_steps or out_of_time:
        if val_utts is None:
          val_utts = evaluate_lib.load_utterances(
              config, state_lib.split_spec(config, "validation"), tokenizer,
              limit=config.train.eval_utterances)
        params = jax.tree_util.tree_map(lambda x: x[0], state_lib.eval_params(p_state))
        res = evaluate_lib.evaluate_utterances(model, params, norm, val_utts, tokenizer, beam=0,
                                               batch_frames=config.eval.batch_frames)
        ev = {f"val_{k}": v for k, v in res["metrics"].items() if isinstance(v, (int, float))}
        if isinstance(p_state, state_lib.EmaTrainState):  # the raw parameters too: what the average buys
          raw = evaluate_lib.evaluate_utterances(
              model, jax.tree_util.tree_map(lambda x: x[0], p_state.params), norm, val_utts,
              tokenizer, beam=0, batch_frames=config.eval.batch_frames)["metrics"]
          ev.update(val_raw_wer=raw["wer"], val_raw_u_wer=raw["u_wer"])
        writer.write(step, ev)
        logging.info("step %d validation: %s", step, ev)
        metrics.update(ev)
      if out_of_time:
        logging.warning("train.max_minutes=%s reached at step %d; stopping", config.train.max_minutes, step)
        break
  finally:
    mngr.wait_until_finished()
    writer.close()
  metrics["step"] = step
  metrics["start_step"] = start  # > 0: this process resumed; train_minutes is its share
  metrics["train_minutes"] = (time.time() - t_start) / 60
  metrics["num_params"] = transducer.count_params(state.params)
  metrics["utts_per_sec"] = total_utts / max(1e-9, time.time() - t_start)
  metrics["num_train_utterances"] = len(utts)
  return metrics
