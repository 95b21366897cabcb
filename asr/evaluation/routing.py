"""Measurements of a branching encoder (``model.encoder.branching``).

* :func:`routing_stats`: the fraction of (request) chunks that the router
  sends to the expensive branch over a set of utterances (full-utterance
  runs, which take the same decisions as streaming: tested);
* :func:`compiled_flops`: FLOPs of one streaming chunk at batch 1 from XLA's
  cost analysis of the compiled step, with every chunk forced to either
  branch (the conditional program would count both branches);
* :func:`stream_timing` / :func:`interleaved_timing`: wall time of the
  streaming encoder at batch 1, chunk by chunk as a device would run it, with
  the router deciding or every chunk forced to one branch (interleaved: the
  variants alternate on each utterance); the difference is the measured
  saving of skipping.
"""

import dataclasses
import functools
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.data import features as features_lib
from asr.data import pipeline
from asr.evaluation import evaluate
from asr.models import encoder as encoder_lib
from asr.models import transducer


def with_threshold(model: transducer.Transducer, threshold: float | None,
                   backfill_threshold: float | None = None,
                   hold_threshold: float | None = None) -> transducer.Transducer:
  """The same model routing at another inference threshold, with
  ``onset_backfill`` another ``backfill_threshold``, and another
  ``hold_threshold`` (hysteresis) (None: as is)."""
  if threshold is None and backfill_threshold is None and hold_threshold is None:
    return model
  e = model.cfg.encoder
  br = e.branching
  if threshold is not None:
    br = dataclasses.replace(br, threshold=float(threshold))
  if backfill_threshold is not None:
    if not br.onset_backfill:
      raise ValueError("backfill_threshold needs a model trained with branching.onset_backfill")
    br = dataclasses.replace(br, backfill_threshold=float(backfill_threshold))
  if hold_threshold is not None:
    br = dataclasses.replace(br, hold_threshold=float(hold_threshold))
  return transducer.Transducer(dataclasses.replace(model.cfg, encoder=dataclasses.replace(e, branching=br)))


def with_oracle(model: transducer.Transducer, oracle: str) -> transducer.Transducer:
  """The same model with ``branching.oracle`` set (a full-utterance
  diagnostic: "outputs", "keys", "uncertain_keys" or "" = off)."""
  e = model.cfg.encoder
  br = dataclasses.replace(e.branching, oracle=oracle)
  return transducer.Transducer(dataclasses.replace(model.cfg, encoder=dataclasses.replace(e, branching=br)))


@functools.partial(jax.jit, static_argnums=(0,))
def _routing(model, params, feats, lengths, wake):
  return model.apply({"params": params}, feats, lengths, wake, method=transducer.Transducer.routing)


def routing_stats(model, params, norm, utts: Sequence[pipeline.Utterance],
                  batch_frames: int = 20000) -> dict:
  """Fraction of chunks on the expensive branch (request chunks; stream-context
  chunks, which also run, are counted separately).

  Returns dict: frac_expensive, chunks, expensive_chunks, context_chunks,
  context_expensive_chunks, per_utterance (fractions, utterance order),
  routes (per utterance, the decisions [chunks] bool over its request chunks)
  and, with ``onset_backfill``, backfill_chunks / frac_backfill: the cheap
  chunks the expensive branch re-runs at an onset (counted with the request
  chunk whose onset they precede; its compute adds to that chunk's).
  """
  if not model.cfg.encoder.branching.enabled:
    raise ValueError("routing_stats needs a branching encoder")
  wake_frames = evaluate.wake_frames_of(utts, model.cfg.encoder)
  e = model.cfg.encoder
  per_chunk_feats = e.subsample_factor * e.chunk_size
  ctx_chunks = wake_frames // per_chunk_feats
  tot = {"chunks": 0, "expensive_chunks": 0, "context_chunks": 0, "context_expensive_chunks": 0,
         "backfill_chunks": 0}
  per_utt = [0.0] * len(utts)
  routes = [np.zeros(0, bool)] * len(utts)
  for idx, batch in pipeline.eval_batches(utts, batch_frames, wake_frames=wake_frames):
    feats, lengths, wake = evaluate.model_inputs(norm, batch)
    r = jax.device_get(_routing(model, params, feats, lengths, wake))
    exp, valid = np.asarray(r["expensive"]), np.asarray(r["valid"])
    for k, i in enumerate(idx):
      if i < 0:
        continue
      v = valid[k]
      req = v.copy()
      req[:ctx_chunks] = False
      ctx = v.copy()
      ctx[ctx_chunks:] = False
      tot["chunks"] += int(req.sum())
      tot["expensive_chunks"] += int((exp[k] & req).sum())
      tot["context_chunks"] += int(ctx.sum())
      tot["context_expensive_chunks"] += int((exp[k] & ctx).sum())
      if "backfill" in r:  # chunk m re-run for the onset at m + 1, a request chunk
        onset_req = np.concatenate([req[1:], [False]])
        tot["backfill_chunks"] += int((np.asarray(r["backfill"])[k] & onset_req).sum())
      per_utt[i] = float((exp[k] & req).sum() / max(1, req.sum()))
      routes[i] = exp[k][req].astype(bool)
  tot["frac_expensive"] = tot["expensive_chunks"] / max(1, tot["chunks"])
  tot["frac_backfill"] = tot["backfill_chunks"] / max(1, tot["chunks"])
  tot["per_utterance"] = per_utt
  tot["routes"] = routes
  return tot


def _stream_fn(model, force_route, params=None):
  """The jitted batch-1 streaming step ``(params, window, valid, state)``;
  given ``params``, a step ``(window, valid, state)`` with the weights as
  constants of the program, as an on-device build bakes them in (passing the
  157 weight arrays of a small model costs ~0.1 ms of host dispatch per chunk
  on CPU, about half the cheap branch's whole step)."""
  step = lambda p, w, n, s: model.apply({"params": p}, w, n, s, None, None, force_route,
                                        method=transducer.Transducer.encode_stream)
  return jax.jit(step) if params is None else jax.jit(functools.partial(step, params))


def _loop_fn(model, force_route, params, max_frames: int):
  """The jitted batch-1 streaming encoder over a whole utterance as one
  compiled program: a ``lax.while_loop`` over its chunks, each the step of
  :func:`_stream_fn` (weights as constants), so no host dispatch runs
  between chunks, as in an on-device runtime's loop.

  The program takes (feats [1, max_frames, F] normalized and zero-padded,
  n_chunks int32 scalar, total encoder frames int32 scalar) and returns
  (sum of the outputs, which keeps every chunk's computation live; routes
  [max_chunks] int32, 1 = expensive, -1 past n_chunks)."""
  e = model.cfg.encoder
  win, hop = encoder_lib.stream_window(e), e.subsample_factor * e.chunk_size
  max_chunks = (max_frames - win) // hop + 1
  state0 = encoder_lib.init_stream_state(e, 1, model.cfg.num_mel_bins)
  branching = e.branching.enabled

  def run(p, feats, n_chunks, total):
    def body(carry):
      i, state, acc, routes = carry
      w = jax.lax.dynamic_slice_in_dim(feats, i * hop, win, axis=1)
      n = jnp.minimum(e.chunk_size, total - i * e.chunk_size)[None]
      out, state = model.apply({"params": p}, w, n, state, None, None, force_route,
                               method=transducer.Transducer.encode_stream)
      if branching:
        routes = routes.at[i].set(state["route"][0])
      return i + 1, state, acc + jnp.sum(out), routes

    init = (jnp.int32(0), state0, jnp.float32(0), jnp.full((max_chunks,), -1, jnp.int32))
    _, _, acc, routes = jax.lax.while_loop(lambda c: c[0] < n_chunks, body, init)
    return acc, routes

  return jax.jit(functools.partial(run, params)), max_chunks


def compiled_flops(model, params) -> dict:
  """FLOPs of one streaming chunk (batch 1) from the compiled program's cost
  analysis: {"cheap": F0, "expensive": F1} for branching encoders (every
  chunk forced to that branch; with ``onset_backfill`` also "backfill": the
  two-chunk path of an onset), {"plain": F} otherwise."""
  e = model.cfg.encoder
  win = encoder_lib.stream_window(e)
  state = encoder_lib.init_stream_state(e, 1, model.cfg.num_mel_bins)
  args = (params, jnp.zeros((1, win, model.cfg.num_mel_bins)), jnp.array([e.chunk_size]), state)
  routes = {"cheap": 0, "expensive": 1} if e.branching.enabled else {"plain": None}
  if e.branching.enabled and e.branching.onset_backfill:
    routes["backfill"] = 2
  out = {}
  for name, force in routes.items():
    cost = _stream_fn(model, force).lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per device
      cost = cost[0]
    out[name] = float(cost.get("flops", float("nan"))) if cost else float("nan")
  return out


def stream_timing(model, params, norm, utts: Sequence[pipeline.Utterance],
                  force_route: int | None = None, repeats: int = 3, mode: str = "host") -> dict:
  """Wall time of the batch-1 streaming encoder over ``utts``: one variant of
  :func:`interleaved_timing` (see there)."""
  return interleaved_timing({"_": (model, params, norm, force_route)}, utts, repeats, mode)["_"]


def _stream_feats(e, mean, std, u: pipeline.Utterance) -> tuple[np.ndarray, int, int]:
  """The utterance's (stream context first, if any) normalized features,
  zero-padded to whole windows [n_chunks * hop + win - hop, F]; its chunk
  count and encoder frames (encoder config ``e``)."""
  win, hop = encoder_lib.stream_window(e), e.subsample_factor * e.chunk_size
  parts = [u.feats.astype(np.float32)]
  if u.wake_feats is not None and len(u.wake_feats):
    if len(u.wake_feats) % hop:
      raise ValueError(f"utterance {u.id!r}: streaming timing needs a stream context of whole "
                       f"chunks ({hop} feature frames; data.stream_context.align='chunk'), got "
                       f"{len(u.wake_feats)}")
    parts.insert(0, u.wake_feats.astype(np.float32))
  f = (np.concatenate(parts) - mean) / std
  total = int(encoder_lib.subsampled_lengths(len(f), e.subsample_factor))
  n_chunks = -(-total // e.chunk_size)
  pad = np.zeros((max(0, n_chunks * hop + win - hop - len(f)), f.shape[1]), np.float32)
  return np.concatenate([f, pad]), n_chunks, total


class _Timed:
  """One variant of interleaved_timing: its compiled step (``mode="host"``)
  or compiled chunk loop (``mode="loop"``) and its chunking."""

  def __init__(self, model, params, norm, force_route, mode: str, max_frames: int):
    self.e = e = model.cfg.encoder
    self.mode = mode
    self.mean, self.std = (np.asarray(x) for x in norm)
    self.win, self.hop = encoder_lib.stream_window(e), e.subsample_factor * e.chunk_size
    self.bins = model.cfg.num_mel_bins
    self.totals = {"seconds": 0.0, "audio_seconds": 0.0, "chunks": 0, "expensive_chunks": 0}
    if mode == "loop":
      self.max_frames = max_frames
      self.fn, _ = _loop_fn(model, force_route, params, max_frames)
      feats = jnp.zeros((1, max_frames, self.bins))
      jax.block_until_ready(self.fn(feats, jnp.int32(1), jnp.int32(1)))  # compile
      return
    self.fn = _stream_fn(model, force_route, params)
    self.state0 = encoder_lib.init_stream_state(e, 1, self.bins)
    # Compile outside the timing: twice, since the returned state may carry
    # another sharding than the initial one (params restored from a pmap run
    # carry a 1-device mesh), which is a second signature of the step.
    x, n = jnp.zeros((1, self.win, self.bins)), jnp.array([e.chunk_size])
    _, st = self.fn(x, n, self.state0)
    jax.block_until_ready(self.fn(x, n, st))

  def inputs(self, u: pipeline.Utterance):
    """What :meth:`run` takes for ``u``; counts its audio."""
    e = self.e
    audio = (len(u.feats) + (0 if u.wake_feats is None else len(u.wake_feats)))
    self.totals["audio_seconds"] += audio * features_lib.HOP / features_lib.SAMPLE_RATE
    f, n_chunks, total = _stream_feats(self.e, self.mean, self.std, u)
    if self.mode == "loop":
      if len(f) > self.max_frames:
        raise ValueError(f"utterance {u.id!r}: {len(f)} feature frames exceed the compiled "
                         f"loop's {self.max_frames}")
      f = np.concatenate([f, np.zeros((self.max_frames - len(f), self.bins), np.float32)])
      return jnp.asarray(f[None]), jnp.int32(n_chunks), jnp.int32(total)
    return ([jnp.asarray(f[None, c * self.hop:c * self.hop + self.win]) for c in range(n_chunks)],
            [jnp.array([min(e.chunk_size, total - c * e.chunk_size)]) for c in range(n_chunks)])

  def run(self, *inputs) -> tuple[float, list]:
    """(seconds, per-chunk routes [1] or None) of one pass over an utterance."""
    if self.mode == "loop":
      feats, n, total = inputs
      t0 = time.perf_counter()
      acc, routes = self.fn(feats, n, total)
      jax.block_until_ready(acc)
      sec = time.perf_counter() - t0
      routes = np.asarray(routes)[:int(n)]
      return sec, [np.array([r]) for r in routes]
    state, routes = self.state0, []
    t0 = time.perf_counter()
    for w, n in zip(*inputs):  # host loop: every chunk dispatched and synchronized
      out, state = self.fn(w, n, state)
      jax.block_until_ready(out)
      routes.append(state.get("route"))
    return time.perf_counter() - t0, routes


def interleaved_timing(variants: dict, utts: Sequence[pipeline.Utterance],
                       repeats: int = 3, mode: str = "host") -> dict:
  """Wall time of batch-1 streaming encoders over ``utts`` (their stream
  context first, if any), every chunk computed in order as a device would.

  variants: {name: (model, params, norm, force_route)}. Per utterance every
  variant runs ``repeats`` passes, the variants alternating pass by pass (each
  pass in an order rotated by one), and keeps its fastest: variants compared in
  one call share the machine's load of the same few seconds (separate calls
  drift by tens of percent on a shared machine). The weights are constants of
  the timed programs (``_stream_fn``): the time is the step's, not the host's
  dispatch of the weights.

  mode: "host" = one jitted step per chunk, dispatched and synchronized from
  Python (includes the host's per-chunk dispatch, ~0.1-0.2 ms on CPU);
  "loop" = the utterance's chunks as one compiled ``lax.while_loop``
  (:func:`_loop_fn`; the same step, no host work between chunks: what an
  on-device runtime's loop pays). One loop program per variant, compiled for
  the longest utterance.

  Returns {name: dict(seconds, audio_seconds (request + context audio
  encoded), ms_per_audio_second, chunks, expensive_chunks)}.
  """
  if mode not in ("host", "loop"):
    raise ValueError(f"mode must be 'host' or 'loop'; got {mode!r}")
  max_frames = 0
  if mode == "loop":  # one program per variant: the longest utterance's padded frames
    max_frames = max(len(_stream_feats(m.cfg.encoder, *(np.asarray(x) for x in norm), u)[0])
                     for m, _, norm, _ in variants.values() for u in utts)
  timed = {k: _Timed(*v, mode=mode, max_frames=max_frames) for k, v in variants.items()}
  for u in utts:
    inputs = {k: t.inputs(u) for k, t in timed.items()}
    best = {k: (float("inf"), []) for k in timed}
    names = list(timed)
    for rep in range(repeats):
      # Each pass starts with another variant: none is always first (after the
      # host's work on the next utterance) or always right after the same one.
      for k in names[rep % len(names):] + names[:rep % len(names)]:
        t = timed[k]
        sec, routes = t.run(*inputs[k])
        if sec < best[k][0]:
          best[k] = (sec, routes)
    for k, t in timed.items():
      sec, routes = best[k]
      t.totals["seconds"] += sec
      t.totals["chunks"] += len(routes)
      if t.e.branching.enabled:
        t.totals["expensive_chunks"] += int(sum(int(r[0]) for r in routes))
  return {k: {**t.totals, "ms_per_audio_second": 1000 * t.totals["seconds"]
              / max(t.totals["audio_seconds"], 1e-9)} for k, t in timed.items()}


def speech_split(routes: Sequence[np.ndarray], spans: Sequence[tuple[float, float] | None],
                 chunk_s: float, groups: Sequence[str | None] | None = None) -> dict | None:
  """The router's decisions inside and outside speech.

  routes: per utterance, the decisions [chunks] over its request chunks
  (``routing_stats(...)["routes"]``); spans: per utterance, (start, end) of
  speech in seconds from the request's start, or None when unknown; chunk_s:
  seconds per chunk (subsample_factor * chunk_size feature frames of 10 ms);
  groups: optional per-utterance label (e.g. :func:`noise_kinds`; None = in no
  group). A chunk is a speech chunk if it overlaps the span. Returns dict:
  speech_chunks, nonspeech_chunks, frac_expensive_speech,
  frac_expensive_nonspeech, speech_chunk_share,
  frac_expensive_by_speech_share ({"<=0.25": (speech chunks with at most a
  quarter of their length inside the span, fraction expensive), "<=0.5",
  "<=0.75", "<=1"}), frac_expensive_edges ({"onset": (partial speech
  chunks in which the span starts, fraction expensive), "offset": (those in
  which it ends; a chunk holding both counts as an onset)}), and with ``groups``
  ``by_group``: {label: the same keys over its utterances}; None when no
  span is known.
  """
  share_bins = (0.25, 0.5, 0.75, 1.0)

  def split(sel_utts):
    n = {"speech": [0, 0], "nonspeech": [0, 0]}  # [chunks, expensive]
    edges = {"onset": [0, 0], "offset": [0, 0]}  # partial chunks holding a span edge
    by_share = np.zeros((len(share_bins), 2), int)  # speech chunks by share: [chunks, expensive]
    known = False
    for i in sel_utts:
      r, span = routes[i], spans[i]
      if span is None:
        continue
      known = True
      start = np.arange(len(r)) * chunk_s
      speech = (start < span[1]) & (start + chunk_s > span[0])
      for name, sel in (("speech", speech), ("nonspeech", ~speech)):
        n[name][0] += int(sel.sum())
        n[name][1] += int((np.asarray(r, bool) & sel).sum())
      share = np.clip(np.minimum(start + chunk_s, span[1]) - np.maximum(start, span[0]),
                      0.0, chunk_s) / chunk_s
      b = np.searchsorted(share_bins, share - 1e-9)  # (0, .25] -> 0, ..., (.75, 1] -> 3
      partial = speech & (share < 1.0 - 1e-9)
      onset = partial & (start <= span[0])  # the speech starts inside the chunk
      offset = partial & ~onset & (start + chunk_s >= span[1])  # ... or ends inside it
      for name, sel in (("onset", onset), ("offset", offset)):
        edges[name][0] += int(sel.sum())
        edges[name][1] += int((np.asarray(r, bool) & sel).sum())
      for k in range(len(share_bins)):
        sel = speech & (b == k)
        by_share[k] += (int(sel.sum()), int((np.asarray(r, bool) & sel).sum()))
    if not known:
      return None
    return {"frac_expensive_by_speech_share": {
                f"<={hi:g}": (int(c), float(e / max(1, c))) for hi, (c, e) in zip(share_bins, by_share)},
            "speech_chunks": n["speech"][0], "nonspeech_chunks": n["nonspeech"][0],
            "frac_expensive_speech": n["speech"][1] / max(1, n["speech"][0]),
            "frac_expensive_nonspeech": n["nonspeech"][1] / max(1, n["nonspeech"][0]),
            "speech_chunk_share": n["speech"][0] / max(1, n["speech"][0] + n["nonspeech"][0]),
            "frac_expensive_edges": {k: (c, e / max(1, c)) for k, (c, e) in edges.items()}}

  out = split(range(len(routes)))
  if out is not None and groups is not None:
    labels = sorted({g for g in groups if g is not None})
    out["by_group"] = {g: split([i for i, x in enumerate(groups) if x == g]) for g in labels}
  return out


def noise_kinds(corpus: str, utts) -> list[str | None]:
  """Per utterance of the generated corpus ``corpus`` (a
  ``voice_assistant`` builder config: tiny / small / mid / full), the
  additive noise its plan mixed in (none / white / pink / babble / talker),
  recomputed from the example's seeded plan (ids ``<split>/<index>``); None
  for other ids or where the plan's transcript is not the utterance's (a
  manifest, another corpus)."""
  from asr.data import corpus as corpus_lib  # pylint: disable=g-import-not-at-top
  from asr.data import voice_assistant  # pylint: disable=g-import-not-at-top
  cfg = voice_assistant.CORPUS_CONFIGS.get(corpus)
  out = []
  for u in utts:
    parts = u.id.split("/")
    kind = None
    if cfg is not None and len(parts) == 2 and parts[1].isdigit():
      plan = corpus_lib.plan_example(cfg, parts[0], int(parts[1]))
      if plan.request.text == u.text:
        kind = plan.aug["noise"]
    out.append(kind)
  return out
